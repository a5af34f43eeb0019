"""The monitor on libvirt's in-process test driver (real libvirt code).

Masakari's side is a recorder here; tests/functional deliver to the real
Masakari.  The test driver cannot kill a QEMU process, so deaths are handed
to the very callback libvirt invokes (``RunningMonitor.inject``); the real
kill -9 runs in the lab tier.
"""
import json
import time
import urllib.request

import libvirt

from monitor import events
from monitor import delivery
from monitor import outbox
from tests.monitor_harness import Recorder
from tests.monitor_harness import domain_view

STOPPED = libvirt.VIR_DOMAIN_EVENT_STOPPED


def test_real_events_are_seen_and_nova_stops_are_not_sent(start, domains):
    recorder = Recorder()
    monitor = start(send=recorder)
    dom, = domains.create()
    monitor.wait_for(lambda: domain_view(monitor, dom).get("last_event") ==
                     "STARTED_BOOTED")

    dom.suspend()
    monitor.wait_for(lambda: domain_view(monitor, dom)["last_event"] ==
                     "SUSPENDED_PAUSED")
    dom.resume()
    dom.destroy()  # what Nova's stop or delete does
    monitor.wait_for(lambda: domain_view(monitor, dom)["last_event"] ==
                     "STOPPED_DESTROYED")

    view = domain_view(monitor, dom)
    assert view["last_decision"] == "record only"
    assert view["reason"] == "not a failure Masakari recovers"
    assert monitor.status()["outbox"]["entries"] == []
    assert recorder.bodies == []


def test_process_death_is_committed_then_delivered(start, domains):
    recorder = Recorder()
    monitor = start(send=recorder)
    dom, = domains.create()

    monitor.process_dies(dom)
    monitor.wait_for(lambda: len(recorder.bodies) == 1)

    body = recorder.bodies[0]
    assert body["type"] == "VM" and body["hostname"] == "compute-1"
    assert body["payload"] == {"event": "LIFECYCLE",
                               "instance_uuid": dom.UUIDString(),
                               "vir_domain_event": "STOPPED_FAILED"}
    entry, = monitor.status()["outbox"]["entries"]
    assert entry["state"] == outbox.ACCEPTED
    assert entry["notification_uuid"] == "n-1"
    assert domain_view(monitor, dom)["last_decision"] == \
        "notify LIFECYCLE/STOPPED_FAILED"


def test_panic_and_the_stop_after_it_make_one_notification(start, domains):
    recorder = Recorder()
    monitor = start(send=recorder)
    dom, = domains.create()
    monitor.wait_for(lambda: dom.UUIDString() in
                     monitor.monitor.inventory.known_running())

    monitor.inject(dom.name(), libvirt.VIR_DOMAIN_EVENT_CRASHED,
                   libvirt.VIR_DOMAIN_EVENT_CRASHED_PANICKED)
    monitor.inject(dom.name(), STOPPED,
                   libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED)
    monitor.wait_for(lambda: len(recorder.bodies) == 1)

    assert domain_view(monitor, dom)["last_decision"] == \
        "notify LIFECYCLE/STOPPED_FAILED (already recorded)"
    assert len(monitor.status()["outbox"]["entries"]) == 1


def test_two_deaths_at_once_are_both_delivered(start, domains):
    recorder = Recorder()
    monitor = start(send=recorder)
    doms = domains.create(2)
    monitor.process_dies(*doms)
    monitor.wait_for(lambda: len(recorder.bodies) == 2)
    assert {b["payload"]["instance_uuid"] for b in recorder.bodies} == \
        {d.UUIDString() for d in doms}


def test_forward_ignored_events_restores_masakari_monitors_behaviour(
        start, domains):
    recorder = Recorder()
    monitor = start("forward_ignored_events = true", send=recorder)
    dom, = domains.create()
    dom.destroy()
    monitor.wait_for(lambda: any(
        b["payload"]["vir_domain_event"] == "STOPPED_DESTROYED"
        for b in recorder.bodies))


def test_undelivered_entries_survive_a_restart(start, domains, tmp_path):
    class Down:
        def __call__(self, body):
            return delivery.Answer(None, "ConnectFailure: refused")

    first = start(send=Down())
    dom, = domains.create()
    first.process_dies(dom)
    first.wait_for(lambda: first.monitor.outbox.entries()[0]["attempts"] >= 1)
    pending = first.status()["outbox"]
    assert pending["pending"] == 1
    assert pending["entries"][0]["last_error"] == "ConnectFailure: refused"
    first.stop()

    recorder = Recorder()
    second = start(send=recorder)
    second.wait_for(lambda: len(recorder.bodies) == 1, timeout=10)
    assert recorder.bodies[0]["payload"]["instance_uuid"] == dom.UUIDString()
    second.stop()

    third = start(send=recorder)  # accepted before: never sent again
    third.wait_for(lambda: third.monitor.libvirt_state["connected"])
    assert len(recorder.bodies) == 1


def test_status_endpoint_serves_status_metrics_and_health(start, domains):
    monitor = start()
    dom, = domains.create()
    monitor.wait_for(lambda: dom.UUIDString() in
                     monitor.monitor.inventory.known_running())
    base = monitor.monitor.status_url

    with urllib.request.urlopen(base + "/status") as response:
        status = json.load(response)
    with urllib.request.urlopen(base + "/healthz") as response:
        health = json.load(response)
    with urllib.request.urlopen(base + "/metrics") as response:
        metrics = response.read().decode()

    assert status["libvirt"]["connected"] is True
    assert dom.UUIDString() in {d["uuid"] for d in status["domains"]}
    assert health["ok"] is True
    assert "instanceha_libvirt_connected 1.0" in metrics
    assert 'instanceha_libvirt_events_total{event="STARTED_BOOTED"}' \
        in metrics


def test_death_found_by_reconcile_is_reported_once(start, domains):
    """What the watcher hands over after a (re)connect: a domain last seen
    running and now shut off for reason crashed died unseen."""
    recorder = Recorder()
    monitor = start(send=recorder)
    dom, = domains.create()
    monitor.wait_for(lambda: dom.UUIDString() in
                     monitor.monitor.inventory.known_running())
    boot = monitor.loop.call(monitor.monitor.inventory.boot_of,
                             dom.UUIDString())
    crashed = {dom.UUIDString(): events.DomainState(
        dom.UUIDString(), dom.name(), -1, libvirt.VIR_DOMAIN_SHUTOFF,
        libvirt.VIR_DOMAIN_SHUTOFF_CRASHED)}

    monitor.loop.call(monitor.monitor.reconciled, crashed)
    monitor.loop.call(monitor.monitor.reconciled, crashed)  # reconnect again
    monitor.wait_for(lambda: len(recorder.bodies) == 1)

    entry, = monitor.status()["outbox"]["entries"]
    assert entry["key"] == "%s/%s/LIFECYCLE/STOPPED_FAILED" % (
        dom.UUIDString(), boot)
    view = domain_view(monitor, dom)
    assert view["state"] == "shutoff"
    assert "while the monitor was not listening" in view["reason"]


def test_libvirtd_away_is_retried_not_fatal(start):
    """A libvirtd that does not answer (nothing listens on the port): the
    monitor stays up, says why in status, and keeps trying."""
    monitor = start(uri="qemu+tcp://127.0.0.1:9/system", connected=False)
    monitor.wait_for(lambda: monitor.monitor.libvirt_state["last_error"])
    time.sleep(1.5)  # several reconnection attempts

    libvirt_state = monitor.status()["libvirt"]
    assert not monitor.task.done()
    assert libvirt_state["connected"] is False
    assert "Connection refused" in libvirt_state["last_error"]


def test_systemd_ready_status_and_watchdog_from_the_loop(
        start, tmp_path, monkeypatch):
    """A real datagram socket stands where systemd's would."""
    import socket

    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monitor = start()
    messages = [sock.recv(4096).decode() for _ in range(4)]
    monitor.stop()
    stopping = []
    while "STOPPING=1" not in stopping:  # WATCHDOG=1 may come before it
        stopping.append(sock.recv(4096).decode())
    sock.close()

    assert any(m.startswith("READY=1\nSTATUS=monitoring compute-1")
               for m in messages)
    watchdog = [m for m in messages if m.startswith("WATCHDOG=1")]
    assert any("STATUS=libvirt connected, " in m for m in watchdog)


def test_sighup_reload_applies_new_heartbeat_settings(start, tmp_path):
    monitor = start()
    path = tmp_path / "instanceha-monitor.conf"
    original = path.read_text()
    path.write_text(original + "[introspectiveinstancemonitor]\n"
                    "guest_monitoring_interval = 4\n"
                    "guest_monitoring_timeout = 1\n"
                    "guest_monitoring_failure_threshold = 5\n")

    assert monitor.loop.call(monitor.monitor.reload) is True

    settings = monitor.status()["settings"]
    assert (settings["interval"], settings["timeout"],
            settings["threshold"]) == (4, 1, 5)
    assert monitor.monitor.prober.interval == 4
    assert settings["reloaded_at"]


def test_reload_of_a_broken_file_changes_nothing(start, tmp_path):
    monitor = start()
    path = tmp_path / "instanceha-monitor.conf"
    path.write_text(path.read_text() + "[introspectiveinstancemonitor]\n"
                    "guest_monitor_interval = 4\n"
                    "guest_monitoring_timeout = 0\n")

    assert monitor.loop.call(monitor.monitor.reload) is False

    assert monitor.status()["settings"] == {
        "interval": 10, "timeout": 2, "threshold": 3, "recovery_budget": 3,
        "reloaded_at": None}
