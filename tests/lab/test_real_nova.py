"""End to end through real Nova: the lab's guests are Nova servers
(nova-compute's libvirt driver on the lab's libvirtd), the monitor watches
the domains Nova defined, and Masakari's engine recovers through real Nova
until the server is ACTIVE and its agent answers again.

nova-compute sees the same libvirt events as the monitor and acts on its
own (it stops a server whose guest "shut down by itself" after a 15 s
delay, and syncs power states); these tests also check that the two do
not fight: one recovery, no server left SHUTOFF or ERROR.

Skipped, with the reason printed, where the lab or real Nova cannot run.
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from monitor import libvirt_watch
from tools.lab import domain as lab_domain
from tools.lab import faults
from tools.lab import monitor_process
from tools.lab import nova_lab
from tools.lab.monitor_process import domain_view
from tools.lab.monitor_process import outbox_entries

OPENSTACK = str(Path(sys.executable).with_name("openstack"))
STATS_PERIOD = 2  # Nova's mem_stats_period_seconds, for fast hangs
SETTLED = 30  # after a recovery: nova-compute's 15 s delay, and more

_OK, _WHY = nova_lab.can_run()


@pytest.fixture(scope="module")
def nova(lab, tmp_path_factory):
    """Real Nova on the session's lab (its libvirtd)."""
    if not _OK:
        pytest.skip("real Nova in the lab: " + _WHY)
    lab.remove_guests()  # the monitor here watches every domain of the host
    stack = nova_lab.NovaLab(tmp_path_factory.mktemp("nova-lab"),
                             mem_stats_period=STATS_PERIOD,
                             monitor_options=monitor_process.FAST_HEARTBEATS,
                             lab=lab)
    stack.start()
    yield stack
    stack.stop()
    assert stack.monitor.proc.returncode == 0


def openstack(nova, *args, timeout=120):
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(nova.cloud.clouds_yaml))
    result = subprocess.run([OPENSTACK, "--os-cloud", "admin", *args],
                            env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_novas_domain_is_what_the_monitor_reads(nova):
    server, dom = nova.server()
    xml = ElementTree.fromstring(dom.XMLDesc(0))
    channel, _, period = libvirt_watch.domain_facts(dom.XMLDesc(0))
    assert (channel, period) == (True, STATS_PERIOD)
    socket = xml.find("./devices/channel/source").get("path")
    assert socket.startswith("/var/lib/libvirt/qemu/org.qemu.guest_agent.0")
    assert xml.find("./metadata/{%s}instance" % lab_domain.NOVA_NS) \
        is not None
    state = nova.monitor.wait_for(lambda s: domain_view(s, dom).get(
        "hang_detection") == "agent and kernel", timeout=60)
    print("\nNova's domain %s: agent channel %s, balloon stats every %d s;"
          " the monitor: %s" % (dom.name(), socket, period,
                                domain_view(state, dom)["kernel"]))


def recover(nova, server, dom, fault):
    """nova.timed_recovery(), and the server's notifications in
    Masakari."""
    result = nova.timed_recovery(server, dom, fault, SETTLED)
    assert result["masakari"] == "finished", result
    result["notifications"] = len([
        n for n in nova.seed.admin.instance_ha.notifications()
        if (n.payload or {}).get("instance_uuid") == server.id])
    return result


def assert_one_recovery(result):
    """Masakari's one stop and one start, and nova-compute's own stop of a
    guest that "shut down by itself" (which would be a second stop, and
    could leave the server SHUTOFF) never came."""
    assert [a for a in result["actions"] if a in ("stop", "start")] == \
        ["stop", "start"], result["actions"]
    assert not any("Instance shutdown by itself" in line
                   for line in result["nova_compute"])


def test_killed_qemu_is_recovered_through_real_nova(nova):
    server, dom = nova.server()
    nova.monitor.wait_for(lambda s: domain_view(s, dom).get("state") ==
                          "running")
    result = recover(nova, server, dom, faults.kill_qemu)
    print("\nkill -9 -> accepted %.2f s, ACTIVE %.2f s, agent answering "
          "%.2f s; Nova actions %s; nova-compute meanwhile:\n  %s" % (
              result["accepted"], result["active"], result["answering"],
              result["actions"], "\n  ".join(result["nova_compute"])))
    assert result["entry"]["event"] == "LIFECYCLE/STOPPED_FAILED"
    assert result["final"] == ("ACTIVE", None)  # not SHUTOFF, not ERROR
    assert result["notifications"] == 1
    assert_one_recovery(result)
    assert faults.ping(nova.domain(server.id))


def test_hung_kernel_is_recovered_through_real_nova(nova):
    server, dom = nova.server()
    nova.monitor.wait_for(lambda s: domain_view(s, dom).get(
        "hang_detection") == "agent and kernel", timeout=60)
    result = recover(nova, server, dom, faults.hang_kernel)
    print("\nkernel hang -> accepted %.2f s, ACTIVE %.2f s, agent "
          "answering %.2f s; Nova actions %s; nova-compute meanwhile:\n  %s"
          % (result["accepted"], result["active"], result["answering"],
             result["actions"], "\n  ".join(result["nova_compute"])))
    assert result["entry"]["event"] == \
        "QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED"
    assert result["final"] == ("ACTIVE", None)
    assert result["notifications"] == 1
    assert_one_recovery(result)


def test_a_rebuild_adds_the_agent_channel(nova):
    """enable on a running server booted without the property: the plugin
    says to rebuild; after a real rebuild the domain has the channel, the
    monitor watches the agent and the plugin says protected."""
    bare = nova.seed.admin.image.get_image(nova.images[False].id)
    image = nova.seed.admin.image.create_image(
        name=nova.seed.unique("lab-guest-bare"), disk_format="ami",
        container_format="ami", visibility="public",
        data=b"\0" * 1024 * 1024, kernel_id=bare.kernel_id,
        ramdisk_id=bare.ramdisk_id,
        os_command_line=bare.os_command_line)
    server, dom = nova.server(image=image, agent=False, metadata={})
    assert not libvirt_watch.domain_facts(dom.XMLDesc(0))[0]
    nova.monitor.wait_for(lambda s: domain_view(s, dom).get(
        "hang_detection") == "kernel", timeout=60)

    enabled = openstack(nova, "instanceha", "enable", server.name)
    before = openstack(nova, "instanceha", "status", server.name, "-f",
                       "value", "-c", "Verdict")
    # Nova's clean power-off of the busybox guest waits out its
    # shutdown_timeout (60 s) under TCG before the rebuild goes on
    openstack(nova, "server", "rebuild", "--wait", server.name, timeout=360)
    fresh = nova.domain(server.id)
    assert libvirt_watch.domain_facts(fresh.XMLDesc(0))[0]
    faults.wait_for_agent(fresh, timeout=120)
    state = nova.monitor.wait_for(lambda s: domain_view(s, fresh).get(
        "hang_detection") == "agent and kernel", timeout=60)
    after = openstack(nova, "instanceha", "status", server.name, "-f",
                      "value", "-c", "Verdict")

    assert "no: rebuild the server to add the channel" in enabled
    assert before.startswith("unknown: ") and "rebuild the server" in before
    assert after.strip() == "protected"
    assert outbox_entries(state, fresh) == []  # a rebuild is no failure
