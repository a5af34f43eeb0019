"""The protection rules, table-driven."""
import pytest

from osc_instanceha import protection as p

AGENT = p.AgentSource("image", "img-1", "debian", value="yes")
NO_AGENT = p.AgentSource("image", "img-1", "debian", value=None)
HIDDEN = p.AgentSource("image", "img-1", error="image img-1 not visible")
GOOD_HOST = p.MasakariHost("seg", True, False)


def facts(**changes):
    base = dict(id="id-1", name="vm", status="ACTIVE",
                metadata={"HA_Enabled": "True"}, host="cmp-1", agent=AGENT,
                masakari_host=GOOD_HOST)
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
     "not protected: image debian lacks hw_qemu_guest_agent=yes (hung "
     "guests go undetected)"),
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
    ({"metadata": {}, "agent": NO_AGENT, "masakari_host": None},
     "not protected: HA_Enabled is not true in the server metadata; image "
     "debian lacks hw_qemu_guest_agent=yes (hung guests go undetected); "
     "host cmp-1 is not in any failover segment"),
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
     "unknown: image d changed after the server booted; rebuild if the "
     "guest has no agent channel"),
])
def test_agent_channel(agent, set_now, launched, expected):
    assert p.agent_channel(agent, set_now, launched) == expected


def test_notification_summary():
    assert p.notification_summary(None) is None
    assert p.notification_summary({
        "status": "finished", "generated_time": "T",
        "payload": {"event": "LIFECYCLE",
                    "vir_domain_event": "STOPPED_FAILED"}}) == \
        "LIFECYCLE/STOPPED_FAILED finished at T"
