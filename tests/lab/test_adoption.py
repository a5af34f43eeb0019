"""Adopting the monitor on real guests: shadow mode first (a hang is
recorded as would-recover and nothing reaches Masakari), and pauses that
step out of the way and end by themselves (a paused server's hang is
recovered only once its pause is over; a host pause holds every guest)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tools.lab import faults
from tools.lab import monitor_process
from tools.lab.monitor_process import FAST_STATS_PERIOD
from tools.lab.monitor_process import notification_accepted
from tools.lab.monitor_process import domain_view
from tools.lab.monitor_process import outbox_entries
from tools.lab.stack import HOSTNAME
from tools.lab.stack import protected_guest
from tools.lab.stack import wait_finished

OPENSTACK = str(Path(sys.executable).with_name("openstack"))
# Nova read every 5 s: a pause set in the metadata is seen within that
FAST = monitor_process.FAST_HEARTBEATS + "ha_enabled_refresh = 5\n"
# a false hang would be found within ~9 s with FAST: watch well past it
QUIET = 20


def start(cloud, tmp_path, extra=""):
    return monitor_process.MonitorProcess(tmp_path, cloud, HOSTNAME,
                                          extra=FAST + extra)


def openstack(cloud, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(cloud.clouds_yaml)
    return subprocess.run([OPENSTACK, "--os-cloud", "admin", *args],
                          env=env, capture_output=True, text=True,
                          check=True, timeout=120).stdout


def instanceha_monitor(monitor, *args):
    return subprocess.run([monitor_process.MONITOR, *args, "--config-file",
                           str(monitor.conf)], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def test_a_hung_guest_in_shadow_mode_is_recorded_and_nothing_is_sent(
        lab, cloud, seed, tmp_path):
    monitor = start(cloud, tmp_path, "[recovery]\nmode = shadow\n")
    try:
        dom = protected_guest(lab, seed, stats_period=FAST_STATS_PERIOD)
        monitor.wait_for(lambda s: domain_view(s, dom).get("heartbeat") ==
                         "monitored")
        hung = time.monotonic()
        faults.hang_kernel(dom)
        state = monitor.wait_for(lambda s: any(
            r["instance_uuid"] == dom.UUIDString()
            for r in s["would_recover"]["recent"]), timeout=60)
        found = time.monotonic() - hung
        time.sleep(QUIET)  # room for anything to leak
        state = monitor.status()

        assert state["mode"] == "shadow"
        assert domain_view(state, dom)["last_decision"] == \
            "would notify QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED"
        assert outbox_entries(state, dom) == []
        assert monitor.stored_entries() == []
        assert seed.notifications_for(dom.UUIDString()) == []
        assert not faults.ping(dom)  # nobody recovered it
        rows = json.loads(instanceha_monitor(monitor, "history", "--json"))
        row, = [r for r in rows if r["instance_uuid"] == dom.UUIDString()]
        assert row["kind"] == "hang"
        assert row["fence"].startswith("would fence once accepted")
        print("\nshadow mode: hang recorded as would-recover %.1f s after "
              "the kernel hung; 0 notifications in Masakari" % found)
    finally:
        monitor.stop()


def test_a_paused_servers_hang_waits_for_the_end_of_its_pause(
        lab, cloud, seed, tmp_path):
    monitor = start(cloud, tmp_path)
    try:
        dom = protected_guest(lab, seed, stats_period=FAST_STATS_PERIOD)
        monitor.wait_for(lambda s: domain_view(s, dom).get("heartbeat") ==
                         "monitored")
        openstack(cloud, "instanceha", "pause", dom.UUIDString(), "--for",
                  "40s")
        state = monitor.wait_for(lambda s: domain_view(s, dom).get(
            "paused_until"), timeout=30)
        until = domain_view(state, dom)["paused_until"]
        faults.hang_kernel(dom)
        time.sleep(QUIET)
        state = monitor.status()
        assert outbox_entries(state, dom) == []
        assert domain_view(state, dom)["heartbeat"].startswith(
            "not monitored: paused by the operator until %s" % until)

        state = monitor.wait_for(notification_accepted(dom),
            timeout=90)
        entry, = outbox_entries(state, dom)
        assert entry["event"] == "QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED"
        assert entry["generated_time"][:19] >= until[:19]
        assert wait_finished(seed, entry["notification_uuid"],
                             timeout=300) == "finished"
        faults.wait_for_agent(dom, timeout=120)
        print("\nserver pause until %s: the hang was sent at %s, after it"
              % (until, entry["generated_time"]))
    finally:
        monitor.stop()


def test_a_host_pause_holds_every_guest_and_ends_by_itself(
        lab, cloud, seed, tmp_path):
    monitor = start(cloud, tmp_path)
    try:
        dead, hung = (protected_guest(lab, seed,
                                      stats_period=FAST_STATS_PERIOD)
                      for _ in range(2))
        monitor.wait_for(lambda s: all(
            domain_view(s, d).get("heartbeat") == "monitored"
            for d in (dead, hung)))
        out = instanceha_monitor(monitor, "pause", "--for", "40s")
        assert out.startswith("paused until ")
        faults.kill_qemu(dead)
        faults.hang_kernel(hung)
        state = monitor.wait_for(lambda s: domain_view(s, dead).get(
            "last_decision") == "no recovery (paused)")
        time.sleep(QUIET)
        state = monitor.status()
        assert state["paused_until"] == out.split()[-1]
        assert outbox_entries(state, dead) == outbox_entries(
            state, hung) == []

        state = monitor.wait_for(lambda s: s["paused_until"] is None and any(
            e["state"] == "accepted" for e in outbox_entries(s, hung)),
            timeout=90)
        assert outbox_entries(state, dead) == []  # a death in a pause stays
        entry, = outbox_entries(state, hung)
        assert wait_finished(seed, entry["notification_uuid"],
                             timeout=300) == "finished"
        faults.wait_for_agent(hung, timeout=120)
    finally:
        monitor.stop()
