"""The protection rules, table-driven."""
import dataclasses

import pytest

from osc_instanceha import fleet
from osc_instanceha import protection as p

NOW = 1796313600.0  # 2026-12-03T16:00:00Z
AGENT = p.AgentSource("image", "img-1", "debian", value="yes",
                      updated_at="2026-01-01T00:00:00Z")
NO_AGENT = p.AgentSource("image", "img-1", "debian", value=None)
LAUNCHED = "2026-01-02T00:00:00.000000"
# the image got a change (maybe the property) after the server's launch
CHANGED_SINCE = p.AgentSource("image", "img-1", "debian", value="yes",
                              updated_at="2026-01-03T00:00:00Z")
STALE = ("agent hangs not known: image debian changed after the server "
         "was launched (rebuild the server if it got hw_qemu_guest_agent "
         "since)")
HIDDEN = p.AgentSource("image", "img-1", error="image img-1 not visible")
GOOD_HOST = p.MasakariHost("seg", True, False)
UP = fleet.MonitorState("cmp-1", up=True, last_seen=NOW - 10, version="1",
                        libvirt_connected=True, pending=0, overdue=0,
                        store_writable=True)
ALL = ["deaths", "kernel hangs", "agent hangs"]
NO_AGENT_HANGS = ["deaths", "kernel hangs"]


def facts(**changes):
    base = dict(id="id-1", name="vm", status="ACTIVE",
                metadata={"HA_Enabled": "True"}, host="cmp-1", agent=AGENT,
                masakari_host=GOOD_HOST, launched_at=LAUNCHED, monitor=UP)
    base.update(changes)
    return p.ServerFacts(**base)


def monitor(**changes):
    return dataclasses.replace(UP, **changes)


@pytest.mark.parametrize("value,expected", [
    ("True", True), ("true", True), ("yes", True), ("1", True),
    ("on", True), ("False", False), ("no", False), ("", False),
    (None, False), ("maybe", False),
])
def test_flags_parse_like_masakari_and_nova(value, expected):
    assert p.is_true(value) is expected


NP, UNK, OK = "not protected", "unknown", "protected"


@pytest.mark.parametrize("changes,state,reasons,covers", [
    ({}, OK, [], ALL),
    ({"metadata": {}}, NP,
     ["HA_Enabled is not true in the server metadata"], []),
    ({"metadata": {"HA_Enabled": "False"}}, NP,
     ["HA_Enabled is not true in the server metadata"], []),
    ({"status": "SHUTOFF"}, NP,
     ["server is SHUTOFF (only running servers are monitored)"], []),
    # the monitor finds its death and its kernel hang: protected, and says
    # what it is not protected against
    ({"agent": NO_AGENT}, OK,
     ["no agent hangs: image debian lacks hw_qemu_guest_agent=yes"],
     NO_AGENT_HANGS),
    ({"masakari_host": None}, NP,
     ["host cmp-1 is not in any failover segment"], []),
    ({"masakari_host": p.MasakariHost("seg", True, True)}, NP,
     ["host cmp-1 is on maintenance"], []),
    ({"masakari_host": p.MasakariHost("seg", False, False)}, NP,
     ["segment seg is disabled"], []),
    ({"masakari_host": p.MasakariHost("seg", None, False)}, OK, [], ALL),
    ({"agent": HIDDEN}, OK, ["agent hangs not known: image img-1 not "
                             "visible"], NO_AGENT_HANGS),
    # a project member: what only an admin sees is said, not guessed
    ({"host": None, "masakari_host": None, "monitor": None}, UNK,
     [p.ADMIN_ONLY], ALL),
    ({"masakari_error": "Masakari unreachable: x"}, UNK,
     ["Masakari unreachable: x"], ALL),
    # a definite reason outranks what could not be established
    ({"metadata": {}, "masakari_error": "Masakari unreachable: x"}, NP,
     ["HA_Enabled is not true in the server metadata",
      "Masakari unreachable: x"], []),
    ({"agent": CHANGED_SINCE}, OK, [STALE], NO_AGENT_HANGS),
    ({"launched_at": None}, OK,
     ["agent hangs not known: the server's launch time is not shown"],
     NO_AGENT_HANGS),
    # Nova 2.98: the properties the instance was built with decide, a
    # later edit of the image does not
    ({"agent": CHANGED_SINCE, "built_with": {"hw_qemu_guest_agent": "yes"}},
     OK, [], ALL),
    ({"built_with": {}}, OK,
     ["built without hw_qemu_guest_agent=yes, which image debian has now "
      "(rebuild the server for agent hangs)"], NO_AGENT_HANGS),
    ({"agent": NO_AGENT, "built_with": {"os_type": "linux"}}, OK,
     ["no agent hangs: built without hw_qemu_guest_agent=yes"],
     NO_AGENT_HANGS),
    ({"agent": HIDDEN, "built_with": {"hw_qemu_guest_agent": "yes"}}, OK,
     [], ALL),
    ({"metadata": {}, "agent": NO_AGENT, "masakari_host": None}, NP,
     ["HA_Enabled is not true in the server metadata",
      "host cmp-1 is not in any failover segment"], []),
    # pauses (HA_Paused_Until, UTC): only while in the future
    ({"metadata": {"HA_Enabled": "True",
                   "HA_Paused_Until": "2026-12-03T17:00:00Z"}}, NP,
     ["paused until 2026-12-03T17:00:00Z"], []),
    ({"metadata": {"HA_Enabled": "True",
                   "HA_Paused_Until": "2026-12-03T16:00:00Z"}}, OK, [], ALL),
    ({"metadata": {"HA_Enabled": "True",
                   "HA_Paused_Until": "2026-12-03T18:00:00+02:00"}}, OK, [],
     ALL),
    ({"metadata": {"HA_Enabled": "True", "HA_Paused_Until": "soon"}}, UNK,
     ["HA_Paused_Until='soon' is not a UTC time (like "
      "2026-12-03T16:00:00Z)"], ALL),
    # the host's monitor, as Prometheus sees it
    ({"monitor": None}, NP, ["no monitor seen on cmp-1"], []),
    ({"monitor": monitor(up=False, last_seen=NOW - 3600)}, NP,
     ["no monitor seen on cmp-1 since 2026-12-03T15:00:00Z"], []),
    ({"monitor": monitor(mode="shadow")}, NP,
     ["monitor on cmp-1 is in shadow mode"], []),
    ({"monitor": monitor(paused_until=NOW + 600)}, NP,
     ["monitor on cmp-1 is paused until 2026-12-03T16:10:00Z"], []),
    ({"monitor": monitor(libvirt_connected=False)}, NP,
     ["monitor on cmp-1 has lost libvirt"], []),
    ({"monitor": monitor(overdue=2)}, UNK,
     ["monitor on cmp-1 has overdue notifications"], ALL),
    ({"monitor": monitor(store_writable=False)}, UNK,
     ["monitor on cmp-1 cannot write its state store"], ALL),
    # never "protected" on a host that was not checked
    ({"monitor": None, "monitor_error": "host side not checked: x"}, UNK,
     ["host side not checked: x"], ALL),
    ({"agent": NO_AGENT, "monitor_error": "host side not checked: x"}, UNK,
     ["host side not checked: x",
      "no agent hangs: image debian lacks hw_qemu_guest_agent=yes"],
     NO_AGENT_HANGS),
])
def test_verdict(changes, state, reasons, covers):
    verdict = p.assess(facts(**changes), NOW)
    assert (verdict.state, verdict.reasons, verdict.covers) == \
        (state, reasons, covers)


@pytest.mark.parametrize("changes", [
    {"monitor": None}, {"monitor_error": "x"}, {"host": None},
    {"masakari_error": "x"}, {"monitor": monitor(up=False, last_seen=NOW)},
    {"monitor": monitor(overdue=1)}, {"metadata": {}},
    {"metadata": {"HA_Enabled": "1", "HA_Paused_Until": "2027-01-01"}},
])
def test_protected_needs_every_side_checked(changes):
    """Each fact that was not checked or not good, alone, is enough to
    withhold "protected"."""
    assert p.verdict(facts(**changes), NOW) != "protected"


def test_each_reason_is_one_line():
    """Reasons are list items (one a line in a table, a list in JSON):
    none may hold a separator of its own."""
    cases = [facts(metadata={}, agent=NO_AGENT, masakari_host=None,
                   status="SHUTOFF"),
             facts(agent=CHANGED_SINCE), facts(built_with={}),
             facts(monitor=monitor(up=False, last_seen=NOW)),
             facts(host=None)]
    for case in cases:
        for reason in p.assess(case, NOW).reasons:
            assert "\n" not in reason and "; " not in reason, reason


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


def image(**attrs):
    return dataclasses.replace(NO_AGENT, **attrs)


@pytest.mark.parametrize("agent,modify,held_back", [
    (image(owner="me", visibility="private"), False, None),
    (image(owner="me", visibility="public"), False,
     "image debian is public"),
    (image(owner="me", visibility="shared"), False,
     "image debian is shared"),
    (image(owner="me", visibility="community"), False,
     "image debian is community"),
    (image(owner="other", visibility="private"), False,
     "image debian belongs to project other"),
    (image(owner="other", visibility="public"), True, None),
    # a boot volume is its server's project's alone
    (p.AgentSource("volume", "v", owner="other"), False, None),
])
def test_enable_leaves_images_beyond_the_project_alone(agent, modify,
                                                       held_back):
    plan = p.plan_enable({}, agent, True, project_id="me",
                         modify_shared=modify)
    assert plan.held_back == held_back
    assert plan.set_agent is (held_back is None)


@pytest.mark.parametrize("agent,set_now,launched,built_with,expected", [
    (NO_AGENT, True, None, None,
     "no: rebuild the server to add the channel"),
    (NO_AGENT, False, None, None,
     "no: no agent hangs: image debian lacks hw_qemu_guest_agent=yes"),
    (HIDDEN, False, None, None, "unknown: image img-1 not visible"),
    (p.AgentSource("image", "i", "d", "yes", "2026-01-01T00:00:00Z"), False,
     "2026-01-01T00:00:00.000000", None, "yes"),
    (p.AgentSource("image", "i", "d", "yes", "2026-01-02T00:00:00Z"), False,
     "2026-01-01T00:00:00.000000", None,
     "unknown: image d changed after the server was launched (rebuild the "
     "server if it got hw_qemu_guest_agent since)"),
    (p.AgentSource("image", "i", "d", "yes", "2026-01-02T00:00:00Z"), False,
     "2026-01-01T00:00:00.000000", {"hw_qemu_guest_agent": "yes"}, "yes"),
])
def test_agent_channel(agent, set_now, launched, built_with, expected):
    assert p.agent_channel(agent, set_now, launched, built_with) == expected


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
    assert (reason is None) == (expected is True), reason


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
