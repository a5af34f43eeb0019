"""The lab host: Debian packages, libvirt's QEMU settings, and a libvirtd
run under a child subreaper (no systemd here), stopped by PID.

Everything needs root: ``can_run()`` says why not, for a loud skip.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tools import debian

PACKAGES = ["libvirt-daemon", "libvirt-daemon-driver-qemu", "libvirt-clients",
            "qemu-system-x86", "qemu-utils", "busybox-static",
            "qemu-guest-agent", "cpio"]
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
QEMU_SETTINGS = {"user": '"root"', "group": '"root"',
                 "security_driver": '"none"', "stdio_handler": '"file"'}
LIBVIRTD = "/usr/sbin/libvirtd"
LIBVIRTD_PIDFILE = Path("/run/libvirtd.pid")
SOCKET = Path("/run/libvirt/libvirt-sock")
URI = "qemu:///system"
HERE = Path(__file__).resolve().parent


def can_run():
    """(True, "") or (False, why the lab cannot run on this machine)."""
    if sys.platform != "linux":
        return False, "the lab needs Linux"
    if os.geteuid() != 0:
        return False, "the lab needs root (it installs packages and runs " \
                      "libvirtd)"
    if not shutil.which("apt-get") and not Path(LIBVIRTD).exists():
        return False, "libvirtd is missing and apt-get is not available"
    return True, ""


def ensure_packages(log=print):
    debian.install(PACKAGES, log)


def configure():
    """qemu.conf: QEMU as root without a security driver, stdio to files
    (no virtlogd); and the libvirt-qemu user the package expects."""
    text = QEMU_CONF.read_text() if QEMU_CONF.exists() else ""
    for key, value in QEMU_SETTINGS.items():
        line = "%s = %s" % (key, value)
        pattern = re.compile(r"^#?\s*%s\s*=.*$" % key, re.MULTILINE)
        if pattern.search(text):
            text = pattern.sub(line, text, count=1)
        else:
            text += "\n" + line + "\n"
    QEMU_CONF.write_text(text)
    if subprocess.run(["id", "libvirt-qemu"],
                      capture_output=True).returncode:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "libvirt-qemu"],
                       check=True)


def setup(log=print):
    ensure_packages(log)
    configure()


class Libvirtd:
    """libvirtd under the subreaper; ``stop(kill=True)`` is a crash."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.log_file = self.workdir / "libvirtd.log"
        self.reaper = None

    def pid(self):
        try:
            pid = int(LIBVIRTD_PIDFILE.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self, timeout=60):
        import libvirt

        if self.pid():
            raise RuntimeError("a libvirtd is already running (pid %s)"
                               % self.pid())
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            self.reaper = subprocess.Popen(
                [sys.executable, str(HERE / "subreaper.py"), LIBVIRTD],
                stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        libvirt.registerErrorHandler(lambda _c, _e: None, None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                conn = libvirt.open(URI)
                conn.getCapabilities()
                conn.close()
                return
            except libvirt.libvirtError:
                if self.reaper.poll() is not None and not self.pid():
                    raise RuntimeError("libvirtd exited:\n%s" % self.log_file
                                       .read_text()[-2000:]) from None
                time.sleep(0.1)
        raise RuntimeError("libvirtd did not answer within %s s" % timeout)

    def stop(self, kill=False, timeout=30):
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        if kill:
            LIBVIRTD_PIDFILE.unlink(missing_ok=True)
