"""The monitor's state_path on a disk that fills up: a death is still
reported once, the monitor says it cannot commit, and once the disk has
room the outbox on disk is right and nothing is sent twice."""
import time

import pytest

from tools.lab import faults
from tools.lab import monitor_process
from tools.lab.monitor_process import domain_view
from tools.lab.stack import HOSTNAME
from tools.lab.stack import protected_guest

FULL_FOR = 20  # seconds the disk stays full after the death
QUIET = 20  # seconds watched after the entry is accepted on disk


@pytest.fixture
def small_disk(tmp_path):
    disk = faults.SmallDisk(tmp_path / "state", size="8m").mount()
    yield disk
    disk.unmount()


@pytest.fixture
def monitor_on_small_disk(cloud, seed, tmp_path, small_disk):
    running = monitor_process.MonitorProcess(tmp_path, cloud, HOSTNAME)
    assert running.state_path == small_disk.path
    yield running
    running.stop()  # before the disk is unmounted
    assert running.proc.returncode == 0


def masakari_count(seed, dom):
    return len(seed.notifications_for(dom.UUIDString()))


def test_a_death_while_the_state_disk_is_full_is_sent_once(
        lab, seed, small_disk, monitor_on_small_disk):
    """state_path on an 8 MiB tmpfs filled to 100 %, then a guest's QEMU
    killed: the death reaches Masakari exactly once, /healthz answers 503
    while the store cannot commit, and after the filler is removed the
    entry is on disk as accepted and nothing is sent again."""
    monitor = monitor_on_small_disk
    dom = protected_guest(lab, seed)
    monitor.wait_for(lambda s: domain_view(s, dom).get("state") ==
                     "running")
    filled = small_disk.fill()
    assert small_disk.free_bytes() == 0
    print("\nstate disk full: %d KiB of filler" % (filled // 1024))

    killed = time.monotonic()
    faults.kill_qemu(dom)
    health, reached = [], None  # /healthz's answers, as they changed
    while time.monotonic() < killed + FULL_FOR:
        code, body = monitor.healthz()
        if not health or health[-1][0] != code:
            health.append((code, body))
        if reached is None and masakari_count(seed, dom):
            reached = time.monotonic() - killed
        time.sleep(0.5)
    alive_while_full = monitor.proc.poll() is None
    small_disk.free()
    freed = time.monotonic()

    on_disk, accepted_after = [], None
    while time.monotonic() < freed + 60 and monitor.proc.poll() is None:
        on_disk = [e for e in monitor.stored_entries()
                   if e["instance_uuid"] == dom.UUIDString()]
        if on_disk and all(e["state"] == "accepted" for e in on_disk):
            accepted_after = time.monotonic() - freed
            break
        time.sleep(0.5)
    if reached is None and masakari_count(seed, dom):
        reached = time.monotonic() - killed
    time.sleep(QUIET)
    count = masakari_count(seed, dom)
    print("healthz while full: %s; the death in Masakari %s after the kill;"
          " on disk as accepted %s after the disk had room; %d "
          "notification(s) in Masakari" % (
              " -> ".join(str(c) for c, _ in health),
              "never" if reached is None else "%.1f s" % reached,
              "never" if accepted_after is None
              else "%.1f s" % accepted_after, count))

    assert alive_while_full, monitor.log_text()[-3000:]
    assert count == 1
    codes = [c for c, _ in health]
    assert 503 in codes and set(codes[codes.index(503):]) == {503}, health
    assert [e["state"] for e in on_disk] == ["accepted"], on_disk
    assert on_disk[0]["event"] == "LIFECYCLE/STOPPED_FAILED"
    assert [e["state"] for e in monitor.stored_entries()
            if e["instance_uuid"] == dom.UUIDString()] == ["accepted"]
