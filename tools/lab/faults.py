"""Fault injectors for the lab's guests, and the guest-agent ping.

Each fault is what an operator meets in production: a QEMU process killed,
a guest kernel that hangs (panic without a panic device: no libvirt event,
the domain stays "running"), the agent stopped inside the guest, a pause, a
clean shutdown from inside, libvirtd restarted while a guest dies.
"""
import json
import os
import signal
import time
from pathlib import Path

import libvirt
import libvirt_qemu

QEMU_PIDS = Path("/run/libvirt/qemu")


def qemu_pid(dom):
    return int((QEMU_PIDS / ("%s.pid" % dom.name())).read_text().strip())


def kill_qemu(dom):
    """kill -9 of the guest's QEMU process: STOPPED/FAILED."""
    pid = qemu_pid(dom)
    os.kill(pid, signal.SIGKILL)
    return pid


def agent(dom, command, timeout=5, **arguments):
    request = {"execute": command}
    if arguments:
        request["arguments"] = arguments
    return json.loads(libvirt_qemu.qemuAgentCommand(
        dom, json.dumps(request), timeout, 0))


def ping(dom, timeout=2):
    """True when the guest agent answers guest-ping."""
    try:
        agent(dom, "guest-ping", timeout)
        return True
    except libvirt.libvirtError:
        return False


def wait_for_agent(dom, timeout=60):
    """Seconds until the first successful guest-ping."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ping(dom, 1):
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError("guest %s: no agent answer within %s s"
                       % (dom.name(), timeout))


def guest_shell(dom, script):
    """Run a shell line inside the guest through the agent (no wait)."""
    return agent(dom, "guest-exec", path="/bin/sh",
                 arg=["-c", script])["return"]["pid"]


def hang_kernel(dom):
    """Crash the guest kernel through sysrq; with panic=0 and no panic
    device it stays hung: QEMU runs on, only the agent goes silent."""
    guest_shell(dom, "sleep 0.2; echo c > /proc/sysrq-trigger")


def hang_kernel_from_host(dom):
    """Panic the guest kernel with an NMI from the host (the guest boots
    with unknown_nmi_panic=1): for a guest without a working agent."""
    dom.injectNMI(0)


def freeze_agent(dom):
    """SIGSTOP qemu-ga inside the guest: the agent stops answering, its
    port stays open, the kernel runs on."""
    guest_shell(dom, "sleep 0.2; kill -STOP $(pidof qemu-ga)")


def reboot_inside(dom):
    """A reboot decided by the guest: a REBOOT event, the same QEMU."""
    guest_shell(dom, "sleep 0.2; reboot -f")


def stop_agent(dom):
    """Stop qemu-ga inside the guest (and keep it stopped): the guest is
    alive, its agent port closes."""
    guest_shell(dom, "touch /stop-agent; sleep 0.2; killall qemu-ga")


def shutdown_inside(dom):
    """A clean power-off decided by the guest: STOPPED/SHUTDOWN."""
    guest_shell(dom, "sleep 0.2; poweroff -f")
