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

import pytest

from tests import monitor_harness as harness
from tools.cloud import hung_proxy

MONITOR = str(Path(sys.executable).with_name("instanceha-monitor"))
REPO = Path(__file__).resolve().parents[2]


def monitor_conf(tmp_path, cloud, hostname, api=""):
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
        + cloud.monitor_api_section() + api)


def masakari_notifications(seed, uuids):
    found = [n for n in seed.admin.instance_ha.notifications()
             if (n.payload or {}).get("instance_uuid") in uuids]
    return found


def ready(child):
    """The uuids a monitor_child announces (its log lines come first)."""
    for line in child.stdout:
        if line.startswith("READY "):
            return set(json.loads(line[len("READY "):]))
    raise AssertionError("the child exited: %s" % child.wait(10))


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
        monitor.wait_for(lambda: monitor.monitor.store.entries()[0][
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
    # Masakari's engine: one stop, one start (the emulator's own record)
    assert seed.actions(dom.UUIDString()) == ["os-stop", "os-start"]


def test_masakari_outage_loses_nothing_and_duplicates_nothing(
        tmp_path, local_cloud, seed, domains):
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    doms = domains.create(5)
    uuids = {d.UUIDString() for d in doms}
    monitor = harness.RunningMonitor(harness.load_conf(
        monitor_conf(tmp_path, local_cloud, host)))
    try:
        monitor.wait_for(lambda: uuids <= harness.running_boots(monitor))
        local_cloud.stop_service("masakari")
        try:
            monitor.process_dies(*doms)
            monitor.wait_for(lambda: all(
                e["attempts"] >= 2 for e in monitor.monitor.store.entries()),
                timeout=30)
            during = monitor.status()["outbox"]
        finally:
            local_cloud.start_masakari()
        back = time.monotonic()
        monitor.wait_for(lambda: monitor.monitor.store.depth() == 0,
                         timeout=60)
        resumed = time.monotonic() - back
        after = monitor.status()["outbox"]["entries"]
    finally:
        monitor.stop()

    assert during["pending"] == 5
    assert all(e["last_error"] for e in during["entries"])
    assert {e["state"] for e in after} == {"accepted"}
    received = masakari_notifications(seed, uuids)
    print("outage: sent %d, Masakari received %d, duplicates %d; all "
          "delivered %.1f s after Masakari was back" % (
              len(uuids), len(received), len(received) - len(
                  {n.payload["instance_uuid"] for n in received}), resumed))
    assert sorted(n.payload["instance_uuid"] for n in received) == \
        sorted(uuids)


def test_unregistered_host_gets_a_final_visible_400(
        tmp_path, local_cloud, seed, domains):
    dom, = domains.create()
    monitor = harness.RunningMonitor(harness.load_conf(
        monitor_conf(tmp_path, local_cloud, "not-a-masakari-host")))
    try:
        monitor.process_dies(dom)
        monitor.wait_for(lambda: monitor.monitor.store.entries()[0][
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
             str(conf), "3", "attempted"], cwd=REPO, stdout=subprocess.PIPE,
            text=True)
        uuids = ready(child)
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


def test_check_names_bad_credentials_and_a_hung_masakari(
        tmp_path, local_cloud, seed, proxy):
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    (tmp_path / "pw").mkdir()
    (tmp_path / "hung").mkdir()
    wrong = monitor_conf(tmp_path / "pw", local_cloud, host)
    wrong.write_text(wrong.read_text().replace(
        "password = secret", "password = not-the-password"))
    hung = monitor_conf(tmp_path / "hung", local_cloud, host,
                        api=HANG_API.format(url=proxy.url, read=2))
    proxy.hang_all = True

    refused = subprocess.run([MONITOR, "check", "--config-file", str(wrong)],
                             capture_output=True, text=True, timeout=60)
    started = time.monotonic()
    waited = subprocess.run([MONITOR, "check", "--config-file", str(hung)],
                            capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started

    assert refused.returncode == 1
    assert "FAIL masakari  cannot query Masakari: Keystone refused the " \
        "credentials in [api] (HTTP 401)" in refused.stdout
    assert waited.returncode == 1
    assert "FAIL masakari  cannot query Masakari: " in waited.stdout
    assert "timed out" in waited.stdout
    assert took < 30  # the read timeout, not forever
    assert refused.stderr == waited.stderr == ""



def test_ha_enabled_only_reads_nova_and_skips_the_others(
        tmp_path, local_cloud, seed, domains):
    host = seed.unique("cmp")
    protected, plain = domains.create(2, devices=harness.AGENT_CHANNEL)
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
        monitor.wait_for(lambda: monitor.monitor.engine.included is not None)
        views = {d["uuid"]: d for d in monitor.status()["domains"]}
        watched = {u for u, g in monitor.monitor.engine.guests.items()
                   if g.watched}
    finally:
        monitor.stop()
    assert monitor.monitor.engine.included == {protected.UUIDString()}
    assert watched == {protected.UUIDString()}  # no pings to the other
    assert views[plain.UUIDString()]["heartbeat"] == \
        "not monitored: HA_Enabled is not set on the server"
    # the test driver's agent never connects: nothing to count yet
    assert views[protected.UUIDString()]["heartbeat"] == \
        "not monitored: never connected since the domain started"


# -- a Masakari that hangs (issue: delivery without bounds) ----------------

HANG_API = "endpoint_override = {url}/v1\ntimeout = {read}\n" \
    "connect_timeout = 2\n"


@pytest.fixture
def proxy(local_cloud):
    running = hung_proxy.HungProxy(local_cloud.url("masakari")).start()
    yield running
    running.stop()


def test_defect_a_hung_masakari_delays_nothing_beyond_its_timeout(
        tmp_path, local_cloud, seed, domains, proxy):
    """No HTTP timeout and one batch: a Masakari that accepted the
    connection and never answered held back every later notification.
    Now one hung request delays no other, and when Masakari answers again
    every pending notification goes out at once, each exactly once."""
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    conf = monitor_conf(tmp_path, local_cloud, host, api=HANG_API.format(
        url=proxy.url, read=10))
    doms = domains.create(6)
    stuck, healthy, rest = doms[0], doms[1], doms[2:]
    proxy.hang_matching = {stuck.UUIDString()}
    monitor = harness.RunningMonitor(harness.load_conf(conf))
    try:
        monitor.process_dies(stuck)
        monitor.wait_for(lambda: proxy.hung)
        died = time.monotonic()
        monitor.process_dies(healthy)
        monitor.wait_for(lambda: any(e["state"] == "accepted" for e in
                                     monitor.monitor.store.entries()))
        healthy_delay = time.monotonic() - died

        proxy.hang_all = True  # now Masakari hangs altogether
        monitor.process_dies(*rest)
        monitor.wait_for(lambda: sum(
            e["attempts"] >= 1 and e["state"] == "pending"
            for e in monitor.monitor.store.entries()) == 5, timeout=30)
        during = monitor.status()["outbox"]
        proxy.hang_all, proxy.hang_matching = False, set()
        back = time.monotonic()
        monitor.wait_for(lambda: monitor.monitor.store.depth() == 0,
                         timeout=60)
        resumed = time.monotonic() - back
    finally:
        monitor.stop()

    print("\nhealthy notification delivered %.2f s after its death while "
          "another send hung; after the hang: all 5 delivered %.1f s later"
          % (healthy_delay, resumed))
    # well under the read timeout (10 s): the hung one held nothing back
    assert healthy_delay < 5
    assert all("timed out" in e["last_error"] for e in during["entries"]
               if e["state"] == "pending")
    # a send hung when Masakari came back times out (10 s), then retries
    # within retry_max_interval (2 s): bounded, whatever the outage
    assert resumed < 10 + 10
    uuids = {d.UUIDString() for d in doms}
    received = masakari_notifications(seed, uuids)
    assert sorted(n.payload["instance_uuid"] for n in received) == \
        sorted(uuids)


def test_defect_sigterm_during_a_hung_send_stops_the_monitor(
        tmp_path, local_cloud, seed, proxy):
    """SIGTERM logged 'stopped' but the process stayed until the socket
    closed.  Now it exits at once; the entry stays pending and is sent by
    the next monitor."""
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    conf = monitor_conf(tmp_path, local_cloud, host, api=HANG_API.format(
        url=proxy.url, read=600))
    proxy.hang_all = True
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.functional.monitor_child", str(conf),
         "1", "in-flight"], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    uuids = ready(child)
    signalled = time.monotonic()
    child.send_signal(signal.SIGTERM)
    child.wait(30)
    stopped_in = time.monotonic() - signalled
    proxy.hang_all = False

    restarted = subprocess.Popen([MONITOR, "start", "--config-file",
                                  str(conf)], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
    try:
        received = wait(lambda: masakari_notifications(seed, uuids))
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.communicate(timeout=20)
    print("\nSIGTERM with a send hung: exited in %.2f s" % stopped_in)
    assert child.returncode == 0
    assert "instanceha-monitor stopped" in child.stdout.read()
    assert stopped_in < 5
    assert len(received) == 1


def test_defect_two_monitors_on_one_state_path(tmp_path, local_cloud, seed):
    """Both delivered the same outbox; now the second refuses to start,
    naming the first, and the first goes on."""
    host = seed.unique("cmp")
    conf = monitor_conf(tmp_path, local_cloud, host)
    first = subprocess.Popen([MONITOR, "start", "--config-file", str(conf)],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        wait(lambda: (tmp_path / "state" / "status.url").exists())
        second = subprocess.run([MONITOR, "start", "--config-file",
                                 str(conf)], capture_output=True, text=True,
                                timeout=60)
        status = subprocess.run([MONITOR, "status", "--json",
                                 "--config-file", str(conf)],
                                capture_output=True, text=True)
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=20)
    assert second.returncode == 1
    assert second.stderr.strip() == (
        "instanceha-monitor: another instanceha-monitor (pid %d) uses the "
        "state directory %s: stop it first, or give this one its own "
        "[DEFAULT] state_path" % (first.pid, tmp_path / "state"))
    assert json.loads(status.stdout)["pid"] == first.pid
