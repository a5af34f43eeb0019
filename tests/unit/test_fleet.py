"""The fleet's monitors from Prometheus' answers, table-driven."""
import pytest

from osc_instanceha import fleet
from tests.unit.prometheus_api import healthy
from tests.unit.prometheus_api import sample

NOW = 1796313600.0  # 2026-12-03T16:00:00Z


def state(now_answer, seen_answer=()):
    return fleet.monitor_states(list(now_answer), list(seen_answer), NOW)


def test_a_healthy_monitor():
    got = state(healthy("cmp-1", NOW))["cmp-1"]
    assert (got.up, got.version, got.mode, got.paused_until,
            got.libvirt_connected, got.domains, got.watched, got.pending,
            got.overdue, got.store_writable, got.last_seen) == (
        True, "1.0", "enforce", 0.0, True, {"agent": 2}, 2, 0, 0, True,
        NOW - 5)


def test_a_monitor_seen_before_but_not_now():
    got = state([], [sample("", "cmp-1", NOW - 600)])["cmp-1"]
    assert (got.up, got.last_seen) == (False, NOW - 600)


@pytest.mark.parametrize("extra,field,expected", [
    # the metrics of shadow mode and host pauses: absent = enforce, none
    ([], "mode", "enforce"),
    ([sample("instanceha_monitor_info", "cmp-1", 1, version="2.0",
             mode="shadow")], "mode", "shadow"),
    ([sample("instanceha_monitor_info", "cmp-1", 1, version="2.0",
             mode="shadow")], "version", "2.0"),
    ([sample("instanceha_paused_until_timestamp_seconds", "cmp-1",
             NOW + 60)], "paused_until", NOW + 60),
    # 0 = not paused; a pause that ended reads as none
    ([sample("instanceha_paused_until_timestamp_seconds", "cmp-1", 0)],
     "paused_until", 0.0),
    ([sample("instanceha_paused_until_timestamp_seconds", "cmp-1",
             NOW - 1)], "paused_until", 0.0),
    ([sample("instanceha_domains", "cmp-1", 3, detection="kernel"),
      sample("instanceha_domains", "cmp-1", 1, detection="off")],
     "domains", {"agent": 2, "kernel": 3, "off": 1}),
])
def test_metrics_map_to_fields(extra, field, expected):
    got = state(healthy("cmp-1", NOW) + extra)["cmp-1"]
    assert getattr(got, field) == expected


def test_series_without_a_host_label_or_garbage_are_skipped():
    answer = [{"metric": {"__name__": "instanceha_build_info"},
               "value": [NOW, "1"]},
              {"metric": {"__name__": "instanceha_outbox_depth",
                          "host": "cmp-1"}, "value": [NOW, "NaNx"]},
              {"nothing": True}]
    assert state(answer) == {}


HOSTS = [fleet.ComputeHost("cmp-1", "enabled, up", "seg", 2),
         fleet.ComputeHost("cmp-2", "enabled, up", "seg", 1),
         fleet.ComputeHost("cmp-3", "enabled, up", None, 0)]


def test_rows_put_hosts_that_need_attention_first():
    states = state(healthy("cmp-1", NOW) + healthy("lab-9", NOW),
                   [sample("", "cmp-2", NOW - 3600)])
    rows = fleet.host_rows(HOSTS, states)
    assert [(r["host"], r["monitor"], r["attention"]) for r in rows] == [
        ("cmp-2", "not seen since 2026-12-03T15:00:00Z",
         ["1 HA server(s) and no monitor running"]),
        ("cmp-3", "never seen", ["no monitor running"]),
        ("lab-9", "up", ["not a compute host of Nova"]),
        ("cmp-1", "up", []),
    ]
    stopped = rows[0]
    assert (stopped["version"], stopped["libvirt"], stopped["last_scrape"]) \
        == (None, None, "2026-12-03T15:00:00Z")


@pytest.mark.parametrize("changes,attention", [
    ({"instanceha_libvirt_connected": 0}, ["libvirt lost"]),
    ({"instanceha_outbox_overdue": 2}, ["overdue notifications"]),
    ({"instanceha_store_writable": 0}, ["state store cannot commit"]),
])
def test_attention(changes, attention):
    states = state(healthy("cmp-1", NOW, **changes))
    row, = [r for r in fleet.host_rows(HOSTS[:1], states)]
    assert row["attention"] == attention
