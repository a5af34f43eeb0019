"""A tiny guest: Debian's kernel and an initramfs with busybox and the real
qemu-guest-agent.  Built from Debian packages, cached by its inputs.

The kernel comes from ``apt-get download`` + ``dpkg-deb -x`` into the cache
(installing linux-image-amd64 would regenerate the host's initramfs for
nothing).  QEMU boots the uncompressed vmlinux (PVH entry) when it can be
extracted from the bzImage: it starts about twice as fast under TCG.
"""
import hashlib
import lzma
import os
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

from tools.cloud import peers

# Load order matters (design notes): virtio transport first, then devices.
MODULES = ["virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
           "virtio", "virtio_pci", "virtio_console", "virtio_balloon",
           "button", "evdev", "pvpanic", "pvpanic-mmio"]
AGENT_PORT = "org.qemu.guest_agent.0"
# panic=0: a panic hangs the kernel (no reboot).  unknown_nmi_panic: an
# NMI from the host (virsh inject-nmi) panics it, to hang a guest that has
# no agent to ask.
CMDLINE = "console=ttyS0 panic=0 unknown_nmi_panic=1 quiet loglevel=3"

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo 1 > /proc/sys/kernel/sysrq
for module in {modules}; do
    insmod /lib/modules/$module.ko 2>/dev/null
done
# No udev here: make the /dev/virtio-ports/<name> link ourselves.
mkdir -p /dev/virtio-ports
while :; do
    for port in /sys/class/virtio-ports/*; do
        [ "$(cat $port/name 2>/dev/null)" = "{port}" ] && \\
            ln -sf /dev/$(basename $port) /dev/virtio-ports/{port}
    done
    [ -e /dev/virtio-ports/{port} ] && break
    sleep 0.05
done
echo "instanceha-lab guest up"
# lab.agent_delay=N on the kernel command line: a guest slow to start its
# agent (still booting, as far as the host can tell).
for word in $(cat /proc/cmdline); do
    case $word in lab.agent_delay=*) sleep ${{word#lab.agent_delay=}};; esac
done
# lab.agent_log: the agent logs every request it reads, with the guest's
# time, to the serial console (the bench reads heartbeat punctuality there).
agent_log=
grep -q lab.agent_log /proc/cmdline && agent_log="-v -l /dev/ttyS0"
# Respawned unless the file /stop-agent exists (fault: agent stopped).
while :; do
    [ -e /stop-agent ] || /usr/sbin/qemu-ga -m virtio-serial \\
        -p /dev/virtio-ports/{port} $agent_log
    sleep 1
done
"""


def cache_root():
    path = peers.cache_dir() / "lab"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True,
                          **kwargs)


def kernel_package():
    out = _run(["apt-cache", "depends", "linux-image-amd64"]).stdout
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-") and \
                line.endswith("-amd64"):
            return line.split(": ", 1)[1]
    raise RuntimeError("cannot find the kernel package behind "
                       "linux-image-amd64:\n" + out)


def fetch_kernel(log=print):
    """(vmlinuz path, modules dir) from the extracted kernel package."""
    package = kernel_package()
    root = cache_root() / package
    if not (root / ".done").exists():
        log("fetching %s" % package)
        with tempfile.TemporaryDirectory() as tmp:
            _run(["apt-get", "download", package], cwd=tmp)
            deb = next(Path(tmp).glob("*.deb"))
            if root.exists():
                shutil.rmtree(root)
            _run(["dpkg-deb", "-x", str(deb), str(root)])
        (root / ".done").write_text(package)
    vmlinuz = next((root / "boot").glob("vmlinuz-*"))
    modules = next((root / "lib" / "modules").iterdir())
    return vmlinuz, modules


def extract_vmlinux(vmlinuz, target):
    """Find the compressed kernel inside the bzImage and unpack it."""
    data = Path(vmlinuz).read_bytes()
    for magic, unpack in ((b"\xfd7zXZ\x00", _unxz), (b"\x1f\x8b\x08",
                                                     _gunzip)):
        start = data.find(magic)
        while start != -1:
            try:
                kernel = unpack(data[start:])
            except (lzma.LZMAError, zlib.error, EOFError):
                kernel = None
            if kernel and kernel[:4] == b"\x7fELF":
                Path(target).write_bytes(kernel)
                return True
            start = data.find(magic, start + 1)
    return False


def _unxz(blob):
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)


def _gunzip(blob):
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)


def _libraries(binary):
    out = _run(["ldd", binary]).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            libs.append(parts[2])
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return libs


def build(log=print):
    """Return (kernel, initrd, cmdline), building what is not cached."""
    vmlinuz, modules = fetch_kernel(log)
    agent, busybox = "/usr/sbin/qemu-ga", "/bin/busybox"
    init = INIT.format(modules=" ".join(MODULES), port=AGENT_PORT)
    digest = hashlib.sha256()
    for part in (str(vmlinuz), init, Path(agent).read_bytes(),
                 Path(busybox).read_bytes()):
        digest.update(part.encode() if isinstance(part, str) else part)
    out = cache_root() / ("guest-" + digest.hexdigest()[:16])
    initrd, vmlinux = out / "initrd.cpio", out / "vmlinux"
    if not (out / ".done").exists():
        log("building the guest image in %s" % out)
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for sub in ("bin", "sbin", "usr/sbin", "proc", "sys", "dev",
                        "lib/modules", "tmp", "var/run", "run"):
                (root / sub).mkdir(parents=True, exist_ok=True)
            shutil.copy(busybox, root / "bin" / "busybox")
            shutil.copy(agent, root / "usr/sbin/qemu-ga")
            for lib in _libraries(agent):
                dest = root / lib.lstrip("/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(lib, dest)
            for module in MODULES:
                found = list(modules.rglob(module + ".ko")) or \
                    list(modules.rglob(module.replace("-", "_") + ".ko"))
                if found:
                    shutil.copy(found[0], root / "lib/modules" /
                                (module + ".ko"))
            (root / "init").write_text(init)
            os.chmod(root / "init", 0o755)
            files = _run(["find", "."], cwd=root).stdout
            with open(initrd, "wb") as archive:
                subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"],
                               input=files.encode(), cwd=root,
                               stdout=archive, check=True)
        if not extract_vmlinux(vmlinuz, vmlinux):
            shutil.copy(vmlinuz, vmlinux)
        (out / ".done").write_text("ok")
    return str(vmlinux), str(initrd), CMDLINE
