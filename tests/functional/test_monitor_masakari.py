"""The host monitor delivering to the real Masakari (API + engine).

libvirt is the in-process test driver; deaths go through the callback
libvirt invokes (see tests/unit/test_monitor_testdriver.py).  Masakari's
engine recovers through the Nova emulator, so a notification really ends
"finished" with the server stopped and started again.
"""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests import monitor_harness as harness

MONITOR = str(Path(sys.executable).with_name("instanceha-monitor"))
REPO = Path(__file__).resolve().parents[2]


def monitor_conf(tmp_path, cloud, hostname):
    return harness.write_conf(tmp_path, """\
[DEFAULT]
hostname = {host}
state_path = {state}
[libvirt]
connection_uri = test:///default
[status]
port = 0
[callback]
retry_interval = 1
retry_max_interval = 2
""".format(host=hostname, state=tmp_path / "state")
        + cloud.monitor_api_section())


def masakari_notifications(seed, uuids):
    found = [n for n in seed.admin.instance_ha.notifications()
             if (n.payload or {}).get("instance_uuid") in uuids]
    return found


def wait(predicate, timeout=60, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met within %s s" % timeout)


def test_crash_is_delivered_and_masakari_recovers_the_server(
        tmp_path, local_cloud, seed, domains):
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    dom, = domains.create()
    seed.server(seed.image().id, id=dom.UUIDString(), host=host,
                metadata={"HA_Enabled": "True"})
    monitor = harness.RunningMonitor(harness.load_conf(
        monitor_conf(tmp_path, local_cloud, host)))
    try:
        monitor.process_dies(dom)
        monitor.wait_for(lambda: monitor.monitor.outbox.entries()[0][
            "state"] == "accepted", timeout=30)
        entry = monitor.status()["outbox"]["entries"][0]
    finally:
        monitor.stop()

    notification = seed.admin.instance_ha.get_notification(
        entry["notification_uuid"])
    assert notification.payload == {
        "event": "LIFECYCLE", "instance_uuid": dom.UUIDString(),
        "vir_domain_event": "STOPPED_FAILED"}
    finished = wait(lambda: seed.admin.instance_ha.get_notification(
        entry["notification_uuid"]).status in ("finished", "error",
                                                "failed") and
        seed.admin.instance_ha.get_notification(entry["notification_uuid"]))
    assert finished.status == "finished"
    actions = [r["path"] for r in requests.get(
        local_cloud.emulator_url + "/_emulator/requests", timeout=10).json()[
        "requests"] if r["method"] == "POST" and dom.UUIDString() in
        r["path"]]
    assert actions.count("/compute/v2.1/servers/%s/action"
                         % dom.UUIDString()) >= 2  # os-stop, os-start


def test_masakari_outage_loses_nothing_and_duplicates_nothing(
        tmp_path, local_cloud, seed, domains):
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    doms = domains.create(5)
    uuids = {d.UUIDString() for d in doms}
    monitor = harness.RunningMonitor(harness.load_conf(
        monitor_conf(tmp_path, local_cloud, host)))
    try:
        monitor.wait_for(lambda: uuids <= set(
            monitor.monitor.inventory.known_running()))
        local_cloud.stop_service("masakari")
        try:
            monitor.process_dies(*doms)
            monitor.wait_for(lambda: all(
                e["attempts"] >= 2 for e in monitor.monitor.outbox.entries()),
                timeout=30)
            during = monitor.status()["outbox"]
        finally:
            local_cloud.start_masakari()
        monitor.wait_for(lambda: monitor.monitor.outbox.depth() == 0,
                         timeout=60)
        after = monitor.status()["outbox"]["entries"]
    finally:
        monitor.stop()

    assert during["pending"] == 5
    assert all(e["last_error"] for e in during["entries"])
    assert {e["state"] for e in after} == {"accepted"}
    received = masakari_notifications(seed, uuids)
    print("outage: sent %d, Masakari received %d, duplicates %d" % (
        len(uuids), len(received),
        len(received) - len({n.payload["instance_uuid"] for n in received})))
    assert sorted(n.payload["instance_uuid"] for n in received) == \
        sorted(uuids)


def test_unregistered_host_gets_a_final_visible_400(
        tmp_path, local_cloud, seed, domains):
    dom, = domains.create()
    monitor = harness.RunningMonitor(harness.load_conf(
        monitor_conf(tmp_path, local_cloud, "not-a-masakari-host")))
    try:
        monitor.process_dies(dom)
        monitor.wait_for(lambda: monitor.monitor.outbox.entries()[0][
            "state"] == "rejected", timeout=30)
        time.sleep(2.5)  # longer than retry_max_interval: no retry happens
        entry = monitor.status()["outbox"]["entries"][0]
    finally:
        monitor.stop()
    assert entry["attempts"] == 1
    assert entry["last_error"].startswith("HTTP 400")
    assert "not-a-masakari-host" in entry["last_error"]


def test_sigkill_with_undelivered_entries_then_restart_delivers_all(
        tmp_path, local_cloud, seed):
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    conf = monitor_conf(tmp_path, local_cloud, host)
    local_cloud.stop_service("masakari")
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.functional.monitor_child",
             str(conf), "3"], cwd=REPO, stdout=subprocess.PIPE, text=True)
        line = child.stdout.readline()
        assert line.startswith("READY "), line
        uuids = set(json.loads(line[len("READY "):]))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        local_cloud.start_masakari()

    monitor = subprocess.Popen([MONITOR, "start", "--config-file", str(conf)],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        received = wait(lambda: len(masakari_notifications(seed, uuids)) >= 3
                        and masakari_notifications(seed, uuids))
        time.sleep(3)  # a duplicate would arrive now
        received = masakari_notifications(seed, uuids)
        status = subprocess.run(
            [MONITOR, "status", "--json", "--config-file", str(conf)],
            capture_output=True, text=True, check=True)
    finally:
        monitor.send_signal(signal.SIGTERM)
        output, _ = monitor.communicate(timeout=20)
    assert monitor.returncode == 0, output
    assert sorted(n.payload["instance_uuid"] for n in received) == \
        sorted(uuids)
    entries = json.loads(status.stdout)["outbox"]["entries"]
    assert {e["state"] for e in entries} == {"accepted"}
    assert "instanceha-monitor stopped" in output


def test_check_names_what_is_wrong(tmp_path, local_cloud, seed):
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    good = monitor_conf(tmp_path / "good", local_cloud, host)
    bad = monitor_conf(tmp_path / "bad", local_cloud, "unknown-host")

    ok = subprocess.run([MONITOR, "check", "--config-file", str(good)],
                        capture_output=True, text=True)
    fail = subprocess.run([MONITOR, "check", "--config-file", str(bad)],
                          capture_output=True, text=True)

    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   masakari  host %r in segment" % host in ok.stdout
    assert "ok   libvirt   test:///default" in ok.stdout
    assert fail.returncode == 1
    assert "FAIL masakari  host 'unknown-host' is not registered" \
        in fail.stdout



def test_ha_enabled_only_reads_nova_and_skips_the_others(
        tmp_path, local_cloud, seed, domains):
    host = seed.unique("cmp")
    protected, plain = domains.create(2)
    image = seed.image().id
    seed.server(image, id=protected.UUIDString(), host=host,
                metadata={"HA_Enabled": "True"})
    seed.server(image, id=plain.UUIDString(), host=host)
    conf = monitor_conf(tmp_path, local_cloud, host)
    conf.write_text(conf.read_text() + "[introspectiveinstancemonitor]\n"
                    "monitor_ha_enabled_only = true\n"
                    "ha_enabled_refresh = 5\n")
    monitor = harness.RunningMonitor(harness.load_conf(conf))
    try:
        monitor.wait_for(lambda: monitor.monitor.ha_enabled is not None)
        views = {d["uuid"]: d for d in monitor.status()["domains"]}
    finally:
        monitor.stop()
    assert monitor.monitor.ha_enabled == {protected.UUIDString()}
    assert views[plain.UUIDString()]["heartbeat"] == \
        "not monitored: HA_Enabled is not set on the server"
    # the test driver has no guest agent: watched, but nothing to ping yet
    assert views[protected.UUIDString()]["heartbeat"] == \
        "not monitored: never connected since the domain started"
