"""The protection rules, table-driven."""
import pytest

from osc_instanceha import protection as p

AGENT = p.AgentSource("image", "img-1", "debian", value="yes",
                      updated_at="2026-01-01T00:00:00Z")
NO_AGENT = p.AgentSource("image", "img-1", "debian", value=None)
LAUNCHED = "2026-01-02T00:00:00.000000"
# the image got a change (maybe the property) after the server's launch
CHANGED_SINCE = p.AgentSource("image", "img-1", "debian", value="yes",
                              updated_at="2026-01-03T00:00:00Z")
STALE = ("image debian changed after the server was launched, so the "
         "guest may lack the agent channel; rebuild the server to add it")
HIDDEN = p.AgentSource("image", "img-1", error="image img-1 not visible")
GOOD_HOST = p.MasakariHost("seg", True, False)


def facts(**changes):
    base = dict(id="id-1", name="vm", status="ACTIVE",
                metadata={"HA_Enabled": "True"}, host="cmp-1", agent=AGENT,
                masakari_host=GOOD_HOST, launched_at=LAUNCHED)
    base.update(changes)
    return p.ServerFacts(**base)


@pytest.mark.parametrize("value,expected", [
    ("True", True), ("true", True), ("yes", True), ("1", True),
    ("on", True), ("False", False), ("no", False), ("", False),
    (None, False), ("maybe", False),
])
def test_flags_parse_like_masakari_and_nova(value, expected):
    assert p.is_true(value) is expected


@pytest.mark.parametrize("changes,expected", [
    ({}, "protected"),
    ({"metadata": {}},
     "not protected: HA_Enabled is not true in the server metadata"),
    ({"metadata": {"HA_Enabled": "False"}},
     "not protected: HA_Enabled is not true in the server metadata"),
    ({"status": "SHUTOFF"},
     "not protected: server is SHUTOFF (only running servers are "
     "monitored)"),
    ({"agent": NO_AGENT},
     "not protected: image debian lacks hw_qemu_guest_agent=yes (only "
     "the host's kernel heartbeat can find a hang)"),
    ({"masakari_host": None},
     "not protected: host cmp-1 is not in any failover segment"),
    ({"masakari_host": p.MasakariHost("seg", True, True)},
     "not protected: host cmp-1 is on maintenance"),
    ({"masakari_host": p.MasakariHost("seg", False, False)},
     "not protected: segment seg is disabled"),
    ({"masakari_host": p.MasakariHost("seg", None, False)}, "protected"),
    ({"agent": HIDDEN}, "unknown: image img-1 not visible"),
    ({"host": None, "masakari_host": None},
     "unknown: compute host not visible (admin only)"),
    ({"masakari_error": "Masakari unreachable: x"},
     "unknown: Masakari unreachable: x"),
    # a definite reason outranks what could not be established
    ({"metadata": {}, "masakari_error": "Masakari unreachable: x"},
     "not protected: HA_Enabled is not true in the server metadata"),
    # "protected" only when the guest is known to have the agent channel
    ({"agent": CHANGED_SINCE}, "unknown: " + STALE),
    ({"launched_at": None},
     "unknown: the server's launch time is not shown, so whether its guest "
     "has the agent channel is not known"),
    ({"agent": CHANGED_SINCE, "masakari_error": "Masakari unreachable: x"},
     "unknown: %s; Masakari unreachable: x" % STALE),
    ({"agent": CHANGED_SINCE, "metadata": {}},
     "not protected: HA_Enabled is not true in the server metadata"),
    ({"metadata": {}, "agent": NO_AGENT, "masakari_host": None},
     "not protected: HA_Enabled is not true in the server metadata; image "
     "debian lacks hw_qemu_guest_agent=yes (only the host's kernel "
     "heartbeat can find a hang); host cmp-1 is not in any failover "
     "segment"),
])
def test_verdict(changes, expected):
    assert p.verdict(facts(**changes)) == expected


@pytest.mark.parametrize("metadata,agent,touch,expected", [
    ({}, NO_AGENT, True, (True, True)),
    ({"HA_Enabled": "True"}, AGENT, True, (False, False)),
    ({"HA_Enabled": "False"}, AGENT, True, (True, False)),
    ({}, NO_AGENT, False, (True, False)),
    ({}, HIDDEN, True, (True, False)),
])
def test_plan_enable(metadata, agent, touch, expected):
    plan = p.plan_enable(metadata, agent, touch)
    assert (plan.set_metadata, plan.set_agent) == expected


@pytest.mark.parametrize("agent,set_now,launched,expected", [
    (NO_AGENT, True, None, "no: rebuild the server to add the channel"),
    (NO_AGENT, False, None, "no: image debian lacks hw_qemu_guest_agent"),
    (HIDDEN, False, None, "unknown: image img-1 not visible"),
    (p.AgentSource("image", "i", "d", "yes", "2026-01-01T00:00:00Z"), False,
     "2026-01-01T00:00:00.000000", "yes"),
    (p.AgentSource("image", "i", "d", "yes", "2026-01-02T00:00:00Z"), False,
     "2026-01-01T00:00:00.000000",
     "unknown: image d changed after the server was launched, so the guest "
     "may lack the agent channel; rebuild the server to add it"),
])
def test_agent_channel(agent, set_now, launched, expected):
    assert p.agent_channel(agent, set_now, launched) == expected


def source(updated_at, kind="image"):
    return p.AgentSource(kind, "s-1", "src", "yes", updated_at)


@pytest.mark.parametrize("agent,launched,expected", [
    # property (and any change) before the launch: the channel is there
    (source("2026-01-01T00:00:00Z"), "2026-01-02T00:00:00.000000", True),
    # the same second is not later (Glance has no fraction)
    (source("2026-01-02T00:00:00Z"), "2026-01-02T00:00:00.900000", True),
    (source("2026-01-02T00:00:01Z"), "2026-01-02T00:00:00.000000", None),
    # time zones are honoured, not compared as text
    (source("2026-01-02T01:30:00+02:00"), "2026-01-02T00:00:00", True),
    (source("2026-01-01T23:30:00-02:00"), "2026-01-02T00:00:00", None),
    (source("2026-01-03T00:00:00.000000", "volume"),
     "2026-01-02T00:00:00.000000", None),
    # what cannot be read is not known
    (source(None), "2026-01-02T00:00:00", None),
    (source("yesterday"), "2026-01-02T00:00:00", None),
    (source("2026-01-01T00:00:00Z"), None, None),
    (source("2026-01-01T00:00:00Z"), "garbage", None),
    (NO_AGENT, "2026-01-02T00:00:00", False),
    (HIDDEN, "2026-01-02T00:00:00", None),
])
def test_channel_state(agent, launched, expected):
    state, reason = p.channel_state(agent, launched)
    assert state is expected
    assert (reason is None) == (expected is not None), reason


@pytest.mark.parametrize("text,expected", [
    ("24", 24.0), ("0.5", 0.5), ("1e6", 1e6), (" 3 ", 3.0),
    ("0", "--since must be more than 0 hours, not '0'"),
    ("-1", "--since must be more than 0 hours, not '-1'"),
    ("-0", "--since must be more than 0 hours, not '-0'"),
    ("nan", "--since must be a finite number of hours, not 'nan'"),
    ("inf", "--since must be a finite number of hours, not 'inf'"),
    ("-inf", "--since must be a finite number of hours, not '-inf'"),
    ("1e400", "--since must be a finite number of hours, not '1e400'"),
    ("1000001", "--since must be at most 1000000 hours, not '1000001'"),
    ("a day", "--since must be a number of hours, not 'a day'"),
    ("", "--since must be a number of hours, not ''"),
])
def test_parse_since(text, expected):
    if isinstance(expected, float):
        assert p.parse_since(text) == expected
    else:
        with pytest.raises(ValueError) as error:
            p.parse_since(text)
        assert str(error.value) == expected
        assert "\n" not in str(error.value)


def test_notification_summary():
    assert p.notification_summary(None) is None
    assert p.notification_summary({
        "status": "finished", "generated_time": "T",
        "payload": {"event": "LIFECYCLE",
                    "vir_domain_event": "STOPPED_FAILED"}}) == \
        "LIFECYCLE/STOPPED_FAILED finished at T"
