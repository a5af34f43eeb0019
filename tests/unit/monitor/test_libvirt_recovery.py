"""Forensics and the libvirt backend on the in-process test driver (real
libvirt code: domain XML, screenshots, start/destroy).  The real QEMU
versions run in tests/lab."""
import json
import time
import types

import libvirt

from monitor import delivery
from monitor import forensics
from monitor import libvirt_recovery
from monitor import store
from tests import monitor_harness as harness
from tests.monitor_harness import Recorder
from tests.monitor_harness import domain_view

URI = "test:///default"
DEATH = {"event": "LIFECYCLE", "vir_domain_event": "STOPPED_FAILED"}
HANG = {"event": "QEMU_GUEST_AGENT_ERROR",
        "vir_domain_event": "STOPPED_FAILED"}


def console_devices(path, graphics=True):
    return ("<serial type='file'><source path='%s'/><target port='0'/>"
            "</serial>%s" % (path, "<graphics type='vnc'/>"
                             if graphics else ""))


def settings(**overrides):
    values = dict(console_tail_bytes=1024, screenshot_max_bytes=1 << 20,
                  max_incidents=50, timeout=10.0)
    values.update(overrides)
    return types.SimpleNamespace(**values)


def body(dom, payload):
    return {"type": "VM", "hostname": "compute-1",
            "generated_time": "2026-01-01T00:00:00",
            "payload": dict(payload, instance_uuid=dom.UUIDString())}


def test_capture_keeps_the_console_tail_and_a_screenshot(domains, tmp_path):
    console = tmp_path / "console.log"
    console.write_bytes(b"boot noise\n" * 10000 + b"Kernel panic - not "
                        b"syncing: sysrq triggered crash\n")
    dom, = domains.create(devices=console_devices(console))

    manifest = forensics.capture(URI, dom.UUIDString(), tmp_path / "inc",
                                 settings(), {"reason": "3 heartbeats"})

    kept = (tmp_path / "inc" / "console.log").read_bytes()
    assert len(kept) == 1024 and kept.endswith(b"sysrq triggered crash\n")
    assert (tmp_path / "inc" / "screenshot.png").read_bytes()[:8] == \
        b"\x89PNG\r\n\x1a\n"
    assert manifest["files"]["console"]["source_bytes"] == \
        console.stat().st_size
    assert manifest["not_kept"] == {}
    on_disk = json.loads((tmp_path / "inc" / "incident.json").read_text())
    assert on_disk["monitor"] == {"reason": "3 heartbeats"}
    assert on_disk["domain"]["name"] == dom.name()


def test_capture_says_why_something_was_not_kept(domains, tmp_path):
    plain, = domains.create()
    big, = domains.create(devices=console_devices(tmp_path / "missing"))

    bare = forensics.capture(URI, plain.UUIDString(), tmp_path / "a",
                             settings(), {})
    capped = forensics.capture(URI, big.UUIDString(), tmp_path / "b",
                               settings(screenshot_max_bytes=100), {})
    gone = forensics.capture(URI, "00000000-0000-0000-0000-00000000dead",
                             tmp_path / "c", settings(), {})

    assert bare["not_kept"] == {"console": "no file-backed console",
                                "screenshot": "no graphics device"}
    assert "No such file" in capped["not_kept"]["console"]
    assert "larger than screenshot_max_bytes" in \
        capped["not_kept"]["screenshot"]
    assert not (tmp_path / "b" / "screenshot.png").exists()
    assert "domain" in gone["not_kept"]
    assert (tmp_path / "c" / "incident.json").exists()


def test_prune_keeps_the_newest_incidents(tmp_path):
    for second in range(5):
        forensics.incident_dir(tmp_path, "u", 1_000_000 + second).mkdir()
    forensics.prune(tmp_path, 2)
    assert [p.name[:15] for p in sorted(tmp_path.iterdir())] == [
        "19700112T134643", "19700112T134644"]


HANG_FAST = ("[introspectiveinstancemonitor]\n"
             "guest_monitoring_interval = 1\n"
             "guest_monitoring_timeout = 1\n"
             "guest_monitoring_failure_threshold = 2\n")


def incidents_at_send(tmp_path, seen):
    def send(sent):  # what exists on disk when the recovery goes out
        incidents = list((tmp_path / "state" / "forensics").glob("*"))
        seen.append([(p / "console.log").read_text() for p in incidents])
        return delivery.accepted("accepted", "n-1")
    return send


def manifest_of(monitor, dom, tmp_path):
    kept = domain_view(monitor, dom)["last_forensics"]
    return json.loads((tmp_path / "state" / "forensics" / kept /
                       "incident.json").read_text())


def test_monitor_keeps_forensics_before_it_sends(start, domains, tmp_path):
    """A hung guest's recovery waits for its capture (up to [forensics]
    timeout): the console's last words are on disk when it goes out."""
    console = tmp_path / "console.log"
    console.write_text("last words\n")
    dom, = domains.create(devices=console_devices(console) +
                          harness.AGENT_CHANNEL)
    seen = []
    monitor = start(send=incidents_at_send(tmp_path, seen), extra=HANG_FAST)
    monitor.agent_connects(dom)
    monitor.wait_for(lambda: seen)

    assert seen == [["last words\n"]]
    assert manifest_of(monitor, dom, tmp_path)["monitor"]["notification"][
        "payload"]["event"] == "QEMU_GUEST_AGENT_ERROR"


def test_a_death_is_sent_at_once_its_capture_alongside(start, domains,
                                                        tmp_path):
    """A dead QEMU has nothing left to wait for: its recovery does not
    wait for the capture, which is kept all the same."""
    console = tmp_path / "console.log"
    console.write_text("last words\n")
    dom, = domains.create(devices=console_devices(console))
    seen = []
    monitor = start(send=incidents_at_send(tmp_path, seen))
    monitor.process_dies(dom)
    monitor.wait_for(lambda: seen and domain_view(monitor, dom).get(
        "last_forensics"))

    assert manifest_of(monitor, dom, tmp_path)["monitor"]["notification"][
        "payload"]["vir_domain_event"] == "STOPPED_FAILED"
    kept = domain_view(monitor, dom)["last_forensics"]
    assert (tmp_path / "state" / "forensics" / kept /
            "console.log").read_text() == "last words\n"


def test_a_stuck_capture_holds_a_hang_by_its_timeout_and_a_death_not(
        start, domains, monkeypatch):
    """A hung guest's screen and console are read before it is reset, for
    at most [forensics] timeout; a dead QEMU has nothing left to wait
    for, so its notification never waits for the capture."""
    monkeypatch.setattr(forensics, "capture", lambda *args: time.sleep(60))
    sent = {}

    def send(body):
        sent[body["payload"]["instance_uuid"]] = time.monotonic()
        return delivery.accepted("accepted", "n")

    monitor = start(send=send, extra="[forensics]\ntimeout = 3\n"
                    "[introspectiveinstancemonitor]\n"
                    "guest_monitoring_interval = 1\n"
                    "guest_monitoring_timeout = 1\n"
                    "guest_monitoring_failure_threshold = 2\n")
    hung, dead = domains.create(2, devices=harness.AGENT_CHANNEL)
    monitor.agent_connects(hung)
    monitor.process_dies(dead)
    died = time.monotonic()
    monitor.wait_for(lambda: domain_view(monitor, hung).get(
        "last_notified"))
    declared = time.monotonic()
    monitor.wait_for(lambda: len(sent) == 2, timeout=20)

    assert sent[dead.UUIDString()] - died < 2.5  # before any hold ends
    assert sent[hung.UUIDString()] - declared >= 2.5  # held for 3 s
    assert sent[hung.UUIDString()] - declared < 10


def test_forensics_can_be_turned_off(start, domains, tmp_path):
    recorder = Recorder()
    monitor = start(send=recorder, extra="[forensics]\nenabled = false\n")
    dom, = domains.create()
    monitor.process_dies(dom)
    monitor.wait_for(lambda: recorder.bodies)
    assert not (tmp_path / "state" / "forensics").exists()


def test_libvirt_backend_restarts_a_dead_domain_once(domains):
    dom, = domains.create()
    dom.destroy()  # the QEMU process is gone
    recover = libvirt_recovery.LibvirtRecovery(URI)

    first = recover(body(dom, DEATH))
    again = recover(body(dom, DEATH))

    assert first == delivery.accepted(
        "libvirt: create done (QEMU process gone)")
    assert dom.isActive()
    assert again == delivery.rejected("the domain is running again")


def test_libvirt_backend_restarts_a_hung_domain(start, domains):
    watching = start()  # to see the domain stop and start again
    dom, = domains.create()
    watching.wait_for(lambda: domain_view(watching, dom).get(
        "last_event") == "STARTED_BOOTED")
    booted = domain_view(watching, dom)["last_event_at"]

    answer = libvirt_recovery.LibvirtRecovery(URI)(body(dom, HANG))

    assert answer.kind == delivery.ACCEPTED and dom.isActive()
    # a new QEMU process (destroy, then start), not a signal to the hung one
    watching.wait_for(lambda: (
        domain_view(watching, dom)["last_event_at"] != booted and
        domain_view(watching, dom)["last_event"] == "STARTED_BOOTED"))
    assert watching.entries() == []  # the destroy: no alarm


def test_libvirt_backend_refuses_what_it_cannot_restart(domains):
    conn = domains.conn
    transient = conn.createXML(
        "<domain type='test'><name>transient-1</name><memory>65536</memory>"
        "<os><type>hvm</type></os></domain>", 0)
    uuid = transient.UUIDString()
    transient.destroy()  # a transient domain leaves no definition
    answer = libvirt_recovery.LibvirtRecovery(URI)(
        {"payload": dict(DEATH, instance_uuid=uuid)})
    assert answer == delivery.rejected("libvirt has no such domain any more")


def test_libvirt_backend_retries_while_libvirt_is_away():
    answer = libvirt_recovery.LibvirtRecovery(
        "qemu+unix:///system?socket=/nonexistent")(
        {"payload": dict(DEATH, instance_uuid="u")})
    assert answer.kind == delivery.RETRY


def test_monitor_with_the_libvirt_backend_resets_a_hung_domain(
        start, domains):
    """A guest whose agent connected and then never answers (the test
    driver answers every agent command with an error): declared hung, and
    the configured libvirt backend destroys and starts it."""
    monitor = start(extra="[recovery]\nbackend = libvirt\n"
                    "[forensics]\nenabled = false\n"
                    "[introspectiveinstancemonitor]\n"
                    "guest_monitoring_interval = 1\n"
                    "guest_monitoring_timeout = 1\n"
                    "guest_monitoring_failure_threshold = 2\n",
                    configured_backend=True)
    dom, = domains.create(devices=harness.AGENT_CHANNEL)
    monitor.agent_connects(dom)
    first_boot = domain_view(monitor, dom)["boot"]

    monitor.wait_for(lambda: monitor.monitor.store.entries(store.ACCEPTED))
    entry, = monitor.status()["outbox"]["entries"]
    assert entry["event"] == "QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED"
    assert entry["last_error"] is None
    assert monitor.status()["recovery_backend"] == "libvirt"
    # a new QEMU process: the monitor saw it stop and start again
    monitor.wait_for(lambda: domain_view(monitor, dom).get("boot", 0) >
                     first_boot)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
