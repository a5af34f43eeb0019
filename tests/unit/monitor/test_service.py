"""The monitor on libvirt's in-process test driver (real libvirt code).

Masakari's side is a recorder here; tests/functional deliver to the real
Masakari.  The test driver cannot kill a QEMU process, so deaths are handed
to the very callback libvirt invokes (``RunningMonitor.inject``); the real
kill -9 runs in the lab tier.
"""
import json
import os
import time
from unittest import mock
import urllib.error
import urllib.request

import libvirt
import pytest

from monitor import control_client
from monitor import delivery
from monitor import effects as fx
from monitor import observations as obs
from monitor import store
from tests import monitor_harness as harness
from tests.monitor_harness import Recorder
from tests.monitor_harness import domain_view
from tests.monitor_harness import running_boots

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
    assert entry["state"] == store.ACCEPTED
    assert entry["notification_uuid"] == "n-1"
    assert domain_view(monitor, dom)["last_decision"] == \
        "notify LIFECYCLE/STOPPED_FAILED"


def test_panic_and_the_stop_after_it_make_one_notification(start, domains):
    recorder = Recorder()
    monitor = start(send=recorder)
    dom, = domains.create()
    monitor.wait_for(lambda: dom.UUIDString() in running_boots(monitor))

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
            return delivery.retry("ConnectFailure: refused")

    first = start(send=Down())
    dom, = domains.create()
    first.process_dies(dom)
    first.wait_for(lambda: first.monitor.store.entries()[0]["attempts"] >= 1)
    pending = first.status()["outbox"]
    assert pending["pending"] == 1
    assert pending["entries"][0]["last_error"] == "ConnectFailure: refused"
    first.stop()
    dom.destroy()  # the dead QEMU stays dead (running again: withdrawn)

    recorder = Recorder()
    second = start(send=recorder)
    second.wait_for(lambda: len(recorder.bodies) == 1, timeout=10)
    assert recorder.bodies[0]["payload"]["instance_uuid"] == dom.UUIDString()
    second.stop()

    # accepted before: never sent again, though a later death is
    third = start(send=recorder)
    later, = domains.create()
    third.process_dies(later)
    third.wait_for(lambda: len(recorder.bodies) == 2, timeout=10)
    third.stop()
    assert [body["payload"]["instance_uuid"] for body in recorder.bodies] \
        == [dom.UUIDString(), later.UUIDString()]


def test_status_endpoint_serves_metrics_and_health_and_not_status(
        start, domains):
    """Issue 21: /status named every instance to any local user; it is on
    the control socket now, for root and the monitor's user."""
    monitor = start()
    dom, = domains.create()
    monitor.wait_for(lambda: dom.UUIDString() in running_boots(monitor))
    base = monitor.monitor.status_url

    with pytest.raises(urllib.error.HTTPError) as moved:
        urllib.request.urlopen(base + "/status")
    with urllib.request.urlopen(base + "/healthz") as response:
        health = json.load(response)
    with urllib.request.urlopen(base + "/metrics") as response:
        metrics = response.read().decode()
    status = control_client.get_status(
        monitor.monitor.store.path / control_client.SOCKET)

    assert moved.value.code == 403
    assert "instanceha-monitor status" in json.load(moved.value)["error"]
    assert status["libvirt"]["connected"] is True
    assert dom.UUIDString() in {d["uuid"] for d in status["domains"]}
    assert health["ok"] is True
    assert 'instanceha_libvirt_connected{host="compute-1"} 1.0' in metrics
    assert 'instanceha_libvirt_events_total{event="STARTED_BOOTED",' \
        'host="compute-1"}' in metrics


def test_the_metrics_listener_serves_metrics_alone_and_names_no_instance(
        start, domains):
    """What Prometheus scrapes from another host: every sample labelled
    with the host, none with an instance's name or UUID, no /status."""
    monitor = start(extra="[status]\nmetrics_listen = 127.0.0.1\n"
                          "metrics_port = 0\n")
    doms = domains.create(2)
    monitor.wait_for(lambda: all(d.UUIDString() in running_boots(monitor)
                                 for d in doms))
    url = monitor.monitor.metrics_url
    assert url and url != monitor.monitor.status_url
    assert (monitor.monitor.store.path / "metrics.url").read_text() == url

    with urllib.request.urlopen(url + "/metrics") as response:
        metrics = response.read().decode()
    for path in ("/status", "/quarantine/x/clear"):
        with pytest.raises(urllib.error.HTTPError) as absent:
            urllib.request.urlopen(url + path)
        assert absent.value.code in (404, 405)

    samples = [line for line in metrics.splitlines()
               if line and not line.startswith("#")]
    assert samples and all('host="compute-1"' in line for line in samples)
    for dom in doms:
        assert dom.UUIDString() not in metrics and dom.name() not in metrics
    # test:///default has no agent and no balloon: nothing finds a hang
    counts = {line.split('"')[1]: float(line.split()[-1])
              for line in samples if line.startswith("instanceha_domains{")}
    assert counts == {"agent": 0, "kernel": 0, "off": 0,
                      "none": len(monitor.status()["domains"])}
    assert "instanceha_scrape_timestamp_seconds{" in metrics


def test_libvirtd_away_is_retried_not_fatal(start):
    """A libvirtd that does not answer (nothing listens on the port): the
    monitor stays up, says why in status, and keeps trying."""
    monitor = start(uri="qemu+tcp://127.0.0.1:9/system", connected=False)
    monitor.wait_for(lambda: monitor.monitor.engine.libvirt["last_error"])
    first = monitor.monitor.metrics.registry.get_sample_value(
        "instanceha_libvirt_events_total", {"event": "STARTED_BOOTED"})

    libvirt_state = monitor.status()["libvirt"]
    assert not monitor.task.done()
    assert libvirt_state["connected"] is False
    assert "Connection refused" in libvirt_state["last_error"]
    assert first == 0.0  # labelled counters exist before any event


def health(monitor, require_libvirt):
    """``instanceha-monitor health`` against the running monitor:
    (exit status, what it printed or failed with)."""
    import argparse

    from monitor import cmd

    args = argparse.Namespace(require_libvirt=require_libvirt, timeout=4)
    try:
        return cmd.cmd_health(monitor.monitor.conf, args), "healthy"
    except cmd.Failure as exc:
        return exc.status, str(exc)


def test_health_fails_on_require_libvirt_while_libvirt_is_away(start):
    """A container's health check and a readiness probe see a monitor
    without libvirt; the liveness check does not (a restart would not
    bring libvirt back)."""
    monitor = start(uri="qemu+tcp://127.0.0.1:9/system", connected=False)
    monitor.wait_for(lambda: monitor.monitor.engine.libvirt["last_error"])
    base = monitor.monitor.status_url

    with urllib.request.urlopen(base + "/healthz") as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(base + "/healthz?require=libvirt")
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(base + "/healthz?require=libvrit")
    assert refused.value.code == 503
    assert json.load(refused.value)["libvirt"]["connected"] is False
    assert unknown.value.code == 400
    assert health(monitor, require_libvirt=False) == (0, "healthy")
    status, line = health(monitor, require_libvirt=True)
    assert status == 1
    assert line.startswith("unhealthy: %s/healthz?require=libvirt answered "
                           "HTTP 503: libvirt not connected (" % base)


def test_health_passes_with_libvirt_connected(start):
    monitor = start()
    monitor.wait_for(lambda: monitor.monitor.engine.libvirt["connected"])
    assert health(monitor, require_libvirt=True) == (0, "healthy")


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
    assert monitor.monitor.engine.settings.threshold == 5
    assert settings["reloaded_at"]


def test_sighup_turns_fencing_off_and_on(start, tmp_path):
    monitor = start()
    path = tmp_path / "instanceha-monitor.conf"
    original = path.read_text()
    assert monitor.status()["settings"]["fence_hung"] is True
    path.write_text(original + "[recovery]\nfence_hung = false\n")
    assert monitor.loop.call(monitor.monitor.reload) is True
    assert monitor.monitor.engine.settings.fence_hung is False
    assert monitor.status()["settings"]["fence_hung"] is False
    path.write_text(original)
    assert monitor.loop.call(monitor.monitor.reload) is True
    assert monitor.monitor.engine.settings.fence_hung is True


def test_reload_of_a_broken_file_changes_nothing(start, tmp_path):
    monitor = start()
    path = tmp_path / "instanceha-monitor.conf"
    path.write_text(path.read_text() + "[introspectiveinstancemonitor]\n"
                    "guest_monitor_interval = 4\n"
                    "guest_monitoring_timeout = 0\n")

    assert monitor.loop.call(monitor.monitor.reload) is False

    assert monitor.status()["settings"] == {
        "interval": 10, "timeout": 2, "threshold": 3, "recovery_budget": 3,
        "fence_hung": True, "mode": "enforce",
        "reloaded_at": None}


HUNG_FAST = ("[introspectiveinstancemonitor]\nguest_monitoring_interval = 1\n"
             "guest_monitoring_timeout = 1\n"
             "guest_monitoring_failure_threshold = 4\n")


def test_defect_a_reconnect_keeps_the_hang_count(start, domains):
    """A reconnect reset every guest's failed heartbeats to zero, and
    re-declared a guest already reported hung."""
    recorder = Recorder()
    monitor = start(send=recorder, extra=HUNG_FAST)
    dom, = domains.create(devices=harness.AGENT_CHANNEL)
    monitor.agent_connects(dom)
    monitor.wait_for(lambda: domain_view(monitor, dom)[
        "heartbeat_failures"] >= 2)
    watcher = monitor.monitor.watcher
    monitor.loop.call(watcher._closed_on_loop, "test: connection dropped")
    monitor.wait_for(lambda: not monitor.monitor.engine.connected)
    monitor.wait_for(lambda: monitor.monitor.engine.connected)
    counted = domain_view(monitor, dom)["heartbeat_failures"]
    monitor.wait_for(lambda: recorder.bodies, timeout=10)
    assert counted >= 2  # the count went on through the reconnect
    for _ in range(2):  # declared once: another reconnect sends nothing
        monitor.loop.call(watcher._closed_on_loop, "again")
        monitor.wait_for(lambda: monitor.monitor.engine.connected)
    time.sleep(3)
    assert len(recorder.bodies) == 1
    assert domain_view(monitor, dom)["liveness"] == "hang declared"


def test_defect_domain_churn_leaves_nothing_behind(start, domains):
    """1,000 domains defined, started (watched: they have an agent
    channel), destroyed and undefined, in batches of 50: the monitor's
    tasks, state, status and store come back to where they were."""
    import gc
    import resource

    monitor = start(extra=HUNG_FAST)
    m = monitor.monitor

    def counts():
        return {"prober tasks": m.prober.watching,
                "watcher tasks": len(m.watcher._tasks),
                "forensics tasks": len(m.forensics._tasks),
                "sends": len(m.delivery._inflight),
                "guests": len(m.engine.guests),
                "status bytes": len(json.dumps(m.status()["domains"])),
                "boots in store": len(m.store.restore().boots)}

    def batch(size):
        doms = domains.create(size, devices=harness.AGENT_CHANNEL)
        uuids = {d.UUIDString() for d in doms}
        monitor.wait_for(lambda: all(
            m.engine.guests[u].watched for u in uuids
            if u in m.engine.guests) and uuids <= set(m.engine.guests))
        for dom in doms:
            dom.destroy()
            dom.undefine()
            domains.made.remove(dom)
        monitor.wait_for(lambda: not uuids & set(m.engine.guests))

    batch(50)
    gc.collect()
    before = monitor.loop.call(counts)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    for _ in range(20):
        batch(50)
    took = time.monotonic() - started
    gc.collect()
    after = monitor.loop.call(counts)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("\nchurn of 1,000 watched domains in %.1f s: %s; peak RSS of the "
          "test process %d -> %d KiB" % (took, after, rss_before, rss_after))
    assert after == before
    assert m.metrics.registry.get_sample_value(
        "instanceha_libvirt_events_total",
        {"event": "UNDEFINED_REMOVED"}) >= 1050


def test_defect_a_second_monitor_on_the_same_state_refuses(start, tmp_path):
    from monitor import service
    from monitor import store as store_mod

    first = start()
    with pytest.raises(store_mod.StateLocked) as refused:
        first.loop.call(lambda: service.Monitor(first.monitor.conf))
    assert "pid %d" % os.getpid() in str(refused.value)
    assert first.monitor.engine.connected  # the first one goes on


def test_clear_quarantine_through_the_control_socket(start, domains,
                                                     tmp_path):
    from monitor import cmd

    recorder = Recorder()
    monitor = start("recovery_budget = 1", send=recorder)
    doms = domains.create()
    monitor.process_dies(*doms)
    monitor.wait_for(lambda: recorder.bodies)
    dom = doms[0]
    monitor.inject(dom.name(), libvirt.VIR_DOMAIN_EVENT_STARTED,
                   libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    monitor.process_dies(dom)
    monitor.wait_for(lambda: domain_view(monitor, dom).get(
        "last_decision") == "quarantine")
    conf_args = type("Args", (), {"uuid": dom.UUIDString()})()

    assert cmd.cmd_clear_quarantine(monitor.monitor.conf, conf_args) == 0
    assert dom.UUIDString() not in monitor.monitor.engine.budget.quarantined
    with pytest.raises(cmd.Failure) as again:
        cmd.cmd_clear_quarantine(monitor.monitor.conf, conf_args)
    assert str(again.value) == "%s is not quarantined" % dom.UUIDString()


def test_defect_the_status_port_cannot_clear_a_quarantine(start):
    """POST /quarantine/<uuid>/clear on the TCP status port needed no
    authentication: any local user could clear a quarantine."""
    monitor = start()
    request = urllib.request.Request(
        monitor.monitor.status_url + "/quarantine/x/clear", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 403


def test_the_control_socket_checks_the_peer(tmp_path):
    """A peer that is neither root nor the monitor's user is refused,
    even if it can reach the socket."""
    import asyncio
    import subprocess
    import sys

    from monitor import control

    import tempfile

    if os.geteuid() != 0:
        pytest.skip("needs root to run a client as another user")
    where = tempfile.mkdtemp(dir="/tmp")  # reachable by the other user
    os.chmod(where, 0o755)
    path = os.path.join(where, "control.sock")

    async def main():
        runner = await control.serve(path, lambda uuid: True,
                                     lambda: {"domains": ["secret"]})
        os.chmod(path, 0o666)  # only the SO_PEERCRED check is left
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c",
            "import os, sys; from monitor import control_client as c; "
            "os.setgid(65534); os.setuid(65534); "
            "print(c.post(sys.argv[1], '/quarantine/u/clear')); "
            "print(c.post(sys.argv[1], '/status', method='GET'))",
            path, stdout=subprocess.PIPE, cwd=os.getcwd())
        out, _ = await child.communicate()
        loop = asyncio.get_running_loop()
        root = await loop.run_in_executor(
            None, control_client.post, path, "/quarantine/u/clear")
        status = await loop.run_in_executor(
            None, control_client.get_status, path)
        await runner.cleanup()
        return out.decode(), root, status

    out, root, status = asyncio.run(main())
    assert "403" in out and "uid 65534 may not clear" in out
    assert "uid 65534 may not read the status" in out
    assert "secret" not in out
    assert root == (200, {"cleared": "u"})
    assert status == {"domains": ["secret"]}


def test_libvirtd_away_is_logged_once_a_minute_not_per_attempt(start,
                                                                caplog):
    """Attempts go on every 0.5 s; a log line each would be 7,200 an
    hour."""
    import logging

    caplog.set_level(logging.WARNING, logger="monitor.libvirt_watch")
    monitor = start(uri="qemu+tcp://127.0.0.1:9/system", connected=False)
    time.sleep(3)
    assert not monitor.task.done()
    lines = [r for r in caplog.records if "unavailable" in r.message]
    assert len(lines) == 1
    assert "retrying every 0.5 s" in lines[0].message


def test_defect_a_full_state_disk_is_said_and_loses_nothing(
        start, domains, monkeypatch, capsys):
    """A full state disk lost deaths without a word: the commit raised,
    the notification was gone and /healthz stayed ok."""
    import argparse

    from monitor import cmd
    from monitor import service
    from monitor import status as status_mod
    from tests.unit.monitor import disk

    monkeypatch.setattr(service, "STORE_FLUSH", 0.1)
    recorder = Recorder()
    monitor = start(send=recorder)
    m = monitor.monitor
    dom, = domains.create()
    monitor.wait_for(lambda: dom.UUIDString() in running_boots(monitor))
    monitor.loop.call(disk.fill, m.store)

    monitor.process_dies(dom)
    monitor.wait_for(lambda: recorder.bodies)  # delivered from memory

    def told():
        try:
            with urllib.request.urlopen(m.status_url + "/healthz") as answer:
                health = (answer.status, json.load(answer))
        except urllib.error.HTTPError as refused:
            health = (refused.code, json.load(refused))
        with urllib.request.urlopen(m.status_url + "/metrics") as answer:
            metrics = answer.read().decode()
        line = monitor.loop.call(status_mod.watchdog_line, m.engine, m.store)
        return health, metrics, line, monitor.status()

    monitor.wait_for(lambda: m.store.health()["unwritten"] >= 2)
    (code, health), metrics, line, status = told()
    assert code == 503 and health["ok"] is False
    assert health["store"]["writable"] is False
    assert "database or disk is full" in health["store"]["error"]
    assert 'instanceha_store_writable{host="compute-1"} 0.0' in metrics
    assert 'instanceha_store_unwritten{host="compute-1"} 0.0' not in metrics
    assert ", STATE STORE CANNOT COMMIT (%d unwritten)" % health["store"][
        "unwritten"] in line
    assert status["store"]["writable"] is False
    entry, = [e for e in status["outbox"]["entries"]
              if e["instance_uuid"] == dom.UUIDString()]
    assert entry["state"] == store.ACCEPTED
    assert status["outbox"]["pending"] == 0
    assert cmd.cmd_status(m.conf, argparse.Namespace(json=False)) == 0
    assert "\nSTATE STORE CANNOT COMMIT since " in capsys.readouterr().out

    monitor.loop.call(disk.free, m.store)  # space returns
    monitor.wait_for(lambda: m.store.health()["writable"], timeout=5)
    (code, health), metrics, line, status = told()
    assert code == 200 and health["ok"] is True
    assert health["store"] == {"writable": True, "since": None,
                               "error": None, "unwritten": 0}
    assert 'instanceha_store_writable{host="compute-1"} 1.0' in metrics
    assert 'instanceha_store_unwritten{host="compute-1"} 0.0' in metrics
    assert "CANNOT COMMIT" not in line
    cmd.cmd_status(m.conf, argparse.Namespace(json=False))
    assert "CANNOT COMMIT" not in capsys.readouterr().out
    assert status["store"]["writable"] is True
    assert monitor.loop.call(disk.on_disk, m.store, (
        "SELECT state FROM notification WHERE instance_uuid = ?"),
        (dom.UUIDString(),)) == [(store.ACCEPTED,)]
    time.sleep(0.5)
    assert len(recorder.bodies) == 1


def test_withdrawn_entries_are_counted_in_status_and_metrics(start, domains):
    from monitor import effects as fx

    class Down:
        def __call__(self, body):
            return delivery.retry("ConnectFailure: refused")

    monitor = start(send=Down())
    m = monitor.monitor
    dom, = domains.create()
    monitor.process_dies(dom)
    monitor.wait_for(lambda: m.store.entries()[0]["attempts"] >= 1)
    key = m.store.entries()[0]["key"]
    monitor.loop.call(m.store.apply, [fx.Withdraw(
        dom.UUIDString(), "runs again", key=key)])
    outbox = monitor.status()["outbox"]
    assert (outbox["pending"], outbox["withdrawn"]) == (0, 1)
    assert outbox["entries"][0]["last_error"] == "runs again"
    assert m.metrics.registry.get_sample_value(
        "instanceha_notifications_withdrawn_total") == 1


def seen_by_engine(monitor):
    """Observation types the engine is handed from now on."""
    seen = []
    engine = monitor.monitor.engine
    observe = engine.observe

    def spy(observation, now):
        seen.append(observation)
        return observe(observation, now)
    monitor.loop.call(setattr, engine, "observe", spy)
    return seen


def test_host_samples_and_nova_readings_reach_the_engine(start):
    """The host probe samples at the stats interval (0.5 s here); Nova is
    read with the masakari backend (and fails here: no cloud), its own
    pool, as forensics have theirs."""
    monitor = start(extra=HUNG_FAST)
    m = monitor.monitor
    seen = seen_by_engine(monitor)
    monitor.loop.call(m.nova.read_now)  # the first reading came at start
    monitor.wait_for(lambda: sum(isinstance(o, obs.HostSample)
                                 for o in seen) >= 2, timeout=5)
    monitor.wait_for(lambda: any(isinstance(o, obs.NovaServers)
                                 for o in seen), timeout=5)
    nova = next(o for o in seen if isinstance(o, obs.NovaServers))
    assert nova.servers is None and nova.error
    sample = next(o for o in seen if isinstance(o, obs.HostSample))
    assert not sample.qemu_read  # nothing fails: pressure only
    monitor.loop.call(m._carry[fx.WatchQemu], fx.WatchQemu(True))
    monitor.wait_for(lambda: any(isinstance(o, obs.HostSample) and
                                 o.qemu_read for o in seen), timeout=5)
    assert m.forensics._pool is m.pools["forensics"]
    assert m.fencer._pool is m.pools["fence"]
    assert m.nova._pool is m.pools["nova"]
    assert m.host_probe._pool is m.pools["host"]
    assert m.watcher._pool is m.pools["libvirt"]
    assert len({id(pool) for pool in m.pools.values()}) == len(m.pools)


def test_read_nova_is_carried_to_the_reader(start):
    monitor = start()
    m = monitor.monitor
    asked = []
    m.nova.read_now = lambda: asked.append(1)
    monitor.loop.call(m._carry[fx.ReadNova], fx.ReadNova())
    assert asked == [1]


def test_the_libvirt_backend_reads_no_nova(start):
    monitor = start(extra="[recovery]\nbackend = libvirt\n",
                    configured_backend=True)
    assert monitor.monitor.nova is None
    assert fx.ReadNova not in monitor.monitor._carry


def test_a_step_of_the_wall_clock_goes_to_the_engine_first(tmp_path):
    from monitor import service

    clocks = {"wall": 1_000_000.0, "mono": 100.0}
    conf = harness.load_conf(harness.write_conf(tmp_path))
    m = harness.loop_thread().call(lambda: service.Monitor(
        conf, clock=lambda: clocks["wall"],
        monotonic=lambda: clocks["mono"]))
    seen = []
    observe = m.engine.observe
    m.engine.observe = lambda o, now: seen.append((o, now)) or \
        observe(o, now)
    try:
        m.observe(obs.Tick())
        clocks["wall"] += 3630.0  # an NTP step of an hour, 30 s later
        clocks["mono"] += 30.0
        m.observe(obs.Tick())
        clocks["wall"] += 30.0
        clocks["mono"] += 30.0
        m.observe(obs.Tick())
    finally:
        m.store.close()
    assert [(type(o).__name__, now) for o, now in seen] == [
        ("Tick", 1_000_000.0), ("ClockStepped", 1_003_630.0),
        ("Tick", 1_003_630.0), ("Tick", 1_003_660.0)]
    assert seen[1][0] == obs.ClockStepped(3600.0)


def test_an_injected_wall_clock_alone_tells_no_steps(tmp_path):
    from monitor import service

    clocks = {"wall": 1_000_000.0}
    conf = harness.load_conf(harness.write_conf(tmp_path))
    m = harness.loop_thread().call(lambda: service.Monitor(
        conf, clock=lambda: clocks["wall"]))
    seen = []
    observe = m.engine.observe
    m.engine.observe = lambda o, now: seen.append(o) or observe(o, now)
    try:
        m.observe(obs.Tick())
        clocks["wall"] += 3600.0
        m.observe(obs.Tick())
    finally:
        m.store.close()
    assert seen == [obs.Tick(), obs.Tick()]


# -- fencing a hung guest whose recovery was accepted -------------------------

def hung_guest(monitor, domains):
    """A guest whose agent port is open and whose pings all fail (the
    test driver answers no agent command): hung, for the monitor."""
    dom, = domains.create(devices=harness.AGENT_CHANNEL)
    monitor.agent_connects(dom)
    return dom


def fences(monitor, result):
    return monitor.monitor.metrics.registry.get_sample_value(
        "instanceha_fences_total", {"result": result})


def test_without_a_readable_nova_an_accepted_hang_is_not_fenced(
        start, domains):
    """The harness has no cloud: every reading of Nova fails. The verdict
    stands without it (that is the verdict's rule), Masakari (a recorder)
    accepts, and the fence, which needs a fresh reading, is skipped: the
    guest is left to Nova's stop."""
    recorder = Recorder()
    monitor = start(send=recorder, extra=HUNG_FAST)
    dom = hung_guest(monitor, domains)
    monitor.wait_for(lambda: domain_view(monitor, dom).get("fence_skipped"),
                     timeout=30)
    view = domain_view(monitor, dom)
    assert view["fence_skipped"].startswith("Nova could not be read (")
    assert "fenced_at" not in view and dom.isActive()
    assert len(recorder.bodies) == 1
    assert recorder.bodies[0]["payload"]["event"] == "QEMU_GUEST_AGENT_ERROR"
    assert (fences(monitor, "skipped"), fences(monitor, "done")) == (1, 0)


def test_an_accepted_hang_is_fenced_after_its_forensics(start, domains):
    """The whole way through the running monitor, on the test driver: the
    hang's verdict reads Nova, forensics are kept, the recorder standing
    for Masakari accepts, Nova is read again, and the domain is
    destroyed. Nova's listing is stood in for at the cloud connection
    (openstacksdk's own Server resources; the harness has no cloud), so
    the reader, its pool, its timing and the parsing are the monitor's
    own."""
    from tests.unit.monitor import test_nova_servers as nova_fakes

    recorder = Recorder()
    monitor = start(send=recorder, extra=HUNG_FAST)
    m = monitor.monitor
    dom, = domains.create(devices=harness.AGENT_CHANNEL)
    compute = nova_fakes.FakeCompute([nova_fakes.nova_server(
        dom.UUIDString(), {"HA_Enabled": "True"})])
    m.nova._connect = lambda: nova_fakes.FakeConnection(compute)
    monitor.agent_connects(dom)
    monitor.wait_for(lambda: domain_view(monitor, dom).get("fenced_at"),
                     timeout=30)

    view = domain_view(monitor, dom)
    assert not dom.isActive()
    assert dom.state()[1] == libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED
    assert 0 <= view["fence_seconds"] < 5 and "fence_skipped" not in view
    assert len(compute.calls) >= 2  # the verdict's reading and the fence's
    assert len(recorder.bodies) == 1  # the destroy is no failure to send
    manifest = json.loads((m.store.path / "forensics" / view[
        "last_forensics"] / "incident.json").read_text())
    assert manifest["fence"]["result"] == "done"
    assert manifest["fence"]["seconds"] == view["fence_seconds"]
    assert fences(monitor, "done") == 1
    assert m.metrics.registry.get_sample_value(
        "instanceha_fence_seconds_count") == 1


def as_nobody(call):
    """``call()``'s outcome in a forked child that dropped to nobody:
    the class name of what it raised, or what it returned (a string).
    Forked rather than exec'd: the child needs no file of the test's
    environment (a virtualenv nobody cannot read would fail the test for
    the wrong reason), only the code already loaded."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            os.setgroups([])
            os.setresgid(nobody.pw_gid, nobody.pw_gid, nobody.pw_gid)
            os.setresuid(nobody.pw_uid, nobody.pw_uid, nobody.pw_uid)
            try:
                outcome = str(call())
            except Exception as exc:
                outcome = type(exc).__name__
            os.write(write, outcome.encode()[:4000])
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        outcome = answer.read().decode()
    os.waitpid(pid, 0)
    return outcome


def test_status_refuses_a_local_user_that_is_not_root():
    """Issue 21: any local user read /status, which names every instance
    on the host.  As ``nobody``: the control socket cannot be opened, and
    were its mode opened up, the monitor's own SO_PEERCRED check refuses
    the request; the TCP endpoint says where the status went; root reads
    it, and ``instanceha-monitor status`` says the refusal in one line."""
    import pathlib
    import shutil
    import subprocess
    import sys
    import tempfile
    from monitor import cmd

    if os.geteuid() != 0:
        pytest.skip("needs root to run a request as nobody")
    where = pathlib.Path(tempfile.mkdtemp(dir="/tmp"))
    os.chmod(where, 0o755)  # only the state directory's own mode is left
    conf_path = harness.write_conf(where, """\
        [DEFAULT]
        hostname = compute-1
        state_path = %s
        [libvirt]
        connection_uri = test:///default
        [status]
        port = 0
        """.replace("        ", "") % (where / "state"))
    os.chmod(conf_path, 0o644)
    conf = harness.load_conf(conf_path)
    monitor = harness.RunningMonitor(conf, send=Recorder())
    sock = where / "state" / control_client.SOCKET

    def tcp_status():
        try:
            urllib.request.urlopen(monitor.monitor.status_url + "/status",
                                   timeout=10)
        except urllib.error.HTTPError as exc:
            return exc.code
        return 200

    try:
        shipped = as_nobody(lambda: control_client.get_status(sock))
        tcp = as_nobody(tcp_status)
        os.chmod(where / "state", 0o755)
        os.chmod(sock, 0o777)
        opened_up = as_nobody(lambda: control_client.get_status(sock))
        as_root = subprocess.run(
            [sys.executable, "-m", "monitor.cmd", "status", "--json",
             "--config-file", str(conf_path)],
            capture_output=True, text=True, timeout=60)
    finally:
        monitor.stop()
        shutil.rmtree(where)
    assert shipped == "PermissionError"
    assert opened_up == "Refused"  # SO_PEERCRED, not the file's mode
    assert tcp == "403"
    assert as_root.returncode == 0
    assert json.loads(as_root.stdout)["hostname"] == "compute-1"

    def refused(path, timeout):
        raise PermissionError(13, "Permission denied", str(path))
    with pytest.raises(cmd.Failure) as caught:
        with mock.patch.object(cmd, "fetch_status", refused):
            cmd.cmd_status(conf, mock.Mock(json=True))
    assert "is root's: run this as root" in str(caught.value)


# -- shadow mode: nothing reaches any backend ---------------------------------

class CloudSpy:
    """The cloud connection the masakari and nova backends share: the
    listing of this host's servers answers (HA_Enabled on all); every
    other request is recorded as sent (and fails)."""

    def __init__(self, uuids):
        from tests.unit.monitor import test_nova_servers as nova_fakes

        self.sent = []
        self._listing = lambda: nova_fakes.response(200, {"servers": [
            nova_fakes.nova_server(uuid, {"HA_Enabled": "True"})
            for uuid in uuids()]})

    def authorize(self):
        return "token"

    def __getattr__(self, service):
        spy = self

        class Service:
            def get_endpoint(self):
                return "http://cloud.invalid"

            def get(self, url, params=None, **kwargs):
                if service == "compute" and url == "/servers/detail":
                    return spy._listing()
                spy.sent.append((service, "get"))
                raise RuntimeError("recorded, not sent")

            def __getattr__(self, name):
                def request(*args, **kwargs):
                    spy.sent.append((service, name))
                    raise RuntimeError("recorded, not sent")
                return request
        return Service()


def count(monitor, name, labels=None):
    return monitor.monitor.metrics.registry.get_sample_value(name,
                                                             labels or {})


@pytest.mark.parametrize("backend", ["masakari", "nova", "libvirt"])
def test_shadow_mode_sends_and_fences_nothing_whatever_the_backend(
        start, domains, tmp_path, backend):
    """A hang and a death in shadow mode are recorded as would-recover;
    nothing reaches the backend (its real sender, the cloud connection,
    libvirt's domains) or the fence; after the switch to enforce on
    SIGHUP the shadow decisions are still not sent, and the next death
    is: the spies do see what is sent."""
    made = []
    spy = CloudSpy(lambda: [d.UUIDString() for d in made])
    monitor = start(extra=HUNG_FAST + "[recovery]\nbackend = %s\nmode = "
                    "shadow\n" % backend, configured_backend=True)
    m = monitor.monitor
    sends = []
    real_send = m.delivery._send
    m.delivery._send = lambda body: sends.append(body) or real_send(body)
    m.cloud._connection = spy
    hung, dead, later = domains.create(3, devices=harness.AGENT_CHANNEL)
    made.extend((hung, dead, later))
    ids = {d.UUIDString(): d.ID() for d in made}
    monitor.agent_connects(hung)
    monitor.process_dies(dead)
    monitor.wait_for(lambda: m.store.would_recover_count() == 2, timeout=30)
    monitor.loop.call(m.fencer.start, fx.Fence(hung.UUIDString(), "k",
                                               hung.ID()))
    monitor.wait_for(lambda: fences(monitor, "skipped") == 1)
    time.sleep(2.5)  # delivery retries every second: room for a leak

    assert sends == [] and spy.sent == [] and m.store.entries() == []
    assert {d.UUIDString(): d.ID() for d in made} == ids  # nothing restarted
    assert hung.isActive() and fences(monitor, "done") == 0
    status = monitor.status()
    assert status["mode"] == "shadow" and status["settings"]["mode"] == \
        "shadow"
    assert status["would_recover"]["count"] == 2
    assert {(r["kind"], r["instance_uuid"]) for r in status[
        "would_recover"]["recent"]} == {("hang", hung.UUIDString()),
                                        ("death", dead.UUIDString())}
    for kind in ("hang", "death"):
        assert count(monitor, "instanceha_would_recover_total",
                     {"kind": kind}) == 1
    assert count(monitor, "instanceha_monitor_info", {
        "version": metrics_version(), "mode": "shadow"}) is None  # not yet
    monitor.monitor.render_metrics()
    assert count(monitor, "instanceha_monitor_info", {
        "version": metrics_version(), "mode": "shadow"}) == 1

    path = tmp_path / "instanceha-monitor.conf"
    path.write_text(path.read_text().replace("mode = shadow",
                                             "mode = enforce"))
    assert monitor.loop.call(m.reload) is True
    time.sleep(2.5)
    assert sends == [] and spy.sent == [] and m.store.entries() == []
    monitor.process_dies(later)
    monitor.wait_for(lambda: sends, timeout=30)
    assert [b["payload"]["instance_uuid"] for b in sends] == \
        [later.UUIDString()] * len(sends)
    assert backend == "libvirt" or spy.sent  # reached the cloud
    monitor.monitor.render_metrics()
    assert count(monitor, "instanceha_monitor_info", {
        "version": metrics_version(), "mode": "enforce"}) == 1
    assert count(monitor, "instanceha_monitor_info", {
        "version": metrics_version(), "mode": "shadow"}) is None


def metrics_version():
    from monitor import metrics

    return metrics.version()


def test_entries_pending_from_enforce_mode_wait_through_shadow_mode(
        start, domains, tmp_path):
    """A notification still being retried when the host is switched to
    shadow mode is not sent in shadow mode; it goes out once enforce mode
    is back."""
    class Down:
        def __init__(self):
            self.up, self.bodies = False, []

        def __call__(self, body):
            self.bodies.append(body)
            return delivery.accepted("ok") if self.up else \
                delivery.retry("ConnectFailure: refused")

    down = Down()
    monitor = start(send=down)
    dom, = domains.create()
    monitor.process_dies(dom)
    monitor.wait_for(lambda: down.bodies)
    path = tmp_path / "instanceha-monitor.conf"
    original = path.read_text()
    path.write_text(original + "[recovery]\nmode = shadow\n")
    assert monitor.loop.call(monitor.monitor.reload) is True
    time.sleep(0.3)  # an attempt already in its worker may finish
    tried, down.up = len(down.bodies), True
    time.sleep(2.5)
    assert len(down.bodies) == tried
    assert monitor.entries(store.PENDING)
    path.write_text(original)
    assert monitor.loop.call(monitor.monitor.reload) is True
    monitor.wait_for(lambda: monitor.monitor.store.entries(store.ACCEPTED))


# -- the host's pause, through the control socket -----------------------------

def test_a_host_pause_through_the_control_socket_holds_and_survives_restart(
        start, domains, tmp_path):
    from monitor import control

    recorder = Recorder()
    first = start(send=recorder)
    sock = first.monitor.store.path / control.SOCKET

    def post(url):
        return _post_off_loop(first, sock, url)

    assert post("/pause?for=0") == (400, {"error": (
        "pause length '0' is zero: give a positive length, e.g. 90s, 30m, "
        "2h or 1d (to end a pause, resume)")})
    assert post("/pause?for=8d")[0] == 400
    assert post("/pause")[0] == 400
    assert first.status()["paused_until"] is None  # nothing changed
    code, answer = post("/pause?for=1h")
    assert code == 200
    status = first.status()
    assert status["paused_until"] == answer["paused_until"]
    first.monitor.render_metrics()
    until = count(first, "instanceha_paused_until_timestamp_seconds")
    assert 3590 < until - time.time() <= 3600
    dom, = domains.create()
    first.process_dies(dom)
    first.wait_for(lambda: domain_view(first, dom).get("last_decision") ==
                   "no recovery (paused)")
    first.stop()

    second = start(send=recorder)
    assert second.status()["paused_until"] == answer["paused_until"]
    assert _post_off_loop(second, sock, "/resume") == (
        200, {"paused_until": None})
    assert second.status()["paused_until"] is None
    second.monitor.render_metrics()
    assert count(second, "instanceha_paused_until_timestamp_seconds") == 0
    assert recorder.bodies == []


def _post_off_loop(monitor, sock, url):
    """A control request from the test's thread, as the CLI makes it."""
    return control_client.post(sock, url)
