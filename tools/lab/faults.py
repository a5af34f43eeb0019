"""Fault injectors for the lab's guests, and the guest-agent ping.

Each fault is what an operator meets in production: a QEMU process killed,
a guest kernel that hangs (panic without a panic device: no libvirt event,
the domain stays "running"), the agent stopped inside the guest, a pause, a
clean shutdown from inside, libvirtd restarted while a guest dies, a guest
that freezes and comes back by itself, every QEMU of the host stopped at
once (a swap storm, CPU starvation), a full disk under the monitor's state.
"""
import contextlib
import errno
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import libvirt
import libvirt_qemu

from tools.lab import domain

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


def freeze_guest(dom, seconds=45):
    """A guest that freezes and comes back by itself, its QEMU running on:
    qemu-ga stopped (SIGSTOP) and the virtio_balloon driver unbound (the
    kernel no longer answers QEMU's statistics requests, the balloon's
    last-update stands still) for ``seconds``, then both back.  One shell
    line started through the agent before it stops; returns at once."""
    drivers = "/sys/bus/virtio/drivers/virtio_balloon"
    guest_shell(dom, (
        "sleep 0.2; b=$(basename $(ls -d {d}/virtio*)); "
        "kill -STOP $(pidof qemu-ga); echo $b > {d}/unbind; "
        "sleep {s}; echo $b > {d}/bind; kill -CONT $(pidof qemu-ga)"
    ).format(d=drivers, s=int(seconds)))


def console_shows(dom, text, timeout=30):
    """Wait until the guest's serial console log contains ``text``."""
    path = domain.console_log(dom)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text.encode() in path.read_bytes():
            return
        time.sleep(0.1)
    raise TimeoutError("guest %s: %r not on its console within %s s"
                       % (dom.name(), text, timeout))


def host_qemu_pids():
    """Every QEMU process of the host's libvirtd, from its pid files
    (the same directory holds libvirtd's own driver.pid: left out)."""
    pids = []
    for path in sorted(QEMU_PIDS.glob("*.pid")):
        try:
            pid = int(path.read_text().strip())
            command = Path("/proc/%d/comm" % pid).read_text()
        except (OSError, ValueError):
            continue  # a domain that stopped meanwhile
        if command.startswith("qemu"):
            pids.append(pid)
    return pids


@contextlib.contextmanager
def host_stall():
    """Every QEMU of the host stopped (SIGSTOP) while the block runs, as
    a swap storm or CPU starvation stops every guest at once; SIGCONT to
    each at the end, whatever happened.  Yields the pids."""
    pids = host_qemu_pids()
    stopped = []
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        yield stopped
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


class SmallDisk:
    """A small tmpfs mounted on ``path`` (e.g. the monitor's
    state_path), to be filled to 100 % with a filler file and freed
    again.  Needs root."""

    def __init__(self, path, size="8m"):
        self.path = Path(path)
        self.size = size
        self.filler = self.path / "filler"
        self.mounted = False

    def mount(self):
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%s,mode=0700" % self.size, "tmpfs",
                        str(self.path)], check=True, capture_output=True)
        self.mounted = True
        return self

    def free_bytes(self):
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize

    def fill(self):
        """Write the filler until the disk refuses a single byte more;
        returns its size."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     0o600)
        try:
            for chunk in (1 << 20, 1 << 12, 1):
                block = b"\0" * chunk
                while True:
                    try:
                        if os.write(fd, block) < chunk:
                            break
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        return self.filler.stat().st_size

    def free(self):
        self.filler.unlink(missing_ok=True)

    def unmount(self):
        if not self.mounted:
            return
        if subprocess.run(["umount", str(self.path)],
                          capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(self.path)], check=True,
                           capture_output=True)
        self.mounted = False
