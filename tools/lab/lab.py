"""The lab: libvirtd plus tiny Nova-shaped guests, set up and torn down.

    lab = Lab(workdir); lab.start()
    dom = lab.boot_guest()          # returns when the agent answers
    lab.stop()                      # destroys the guests, stops libvirtd
"""
import itertools
import time
import uuid
from pathlib import Path

import libvirt

from tools.lab import domain
from tools.lab import faults
from tools.lab import guest
from tools.lab import host

KVM_PROBE_SECONDS = 25


class Lab:
    def __init__(self, workdir, log=print):
        self.workdir = Path(workdir)
        self.log = log
        self.libvirtd = host.Libvirtd(self.workdir / "libvirtd")
        self.conn = None
        self.image = None
        self.virt_type = "qemu"
        self.guests = []
        # Nova names its domains instance-%08x from 1: the lab's own start
        # far above, so that both can run on one libvirtd
        self._index = itertools.count(0x100001)

    def start(self):
        host.setup(self.log)
        self.image = guest.build(self.log)
        started = time.monotonic()
        self.libvirtd.start()
        self.log("libvirtd up in %.1f s" % (time.monotonic() - started))
        self.conn = libvirt.open(host.URI)
        self._remove_leftovers()
        self.virt_type = self._virt_type()
        self.log("guests run under %s" % (
            "KVM" if self.virt_type == "kvm" else "TCG (no working KVM)"))
        return self

    def reconnect(self):
        """After a libvirtd restart: a fresh connection for the lab's own
        calls (guest handles are looked up again by UUID)."""
        try:
            self.conn.close()
        except libvirt.libvirtError:
            pass
        self.conn = libvirt.open(host.URI)
        self.guests = [self.conn.lookupByUUIDString(d.UUIDString())
                       for d in self.guests]

    def _virt_type(self):
        """KVM when it really runs a Linux guest, else TCG.  Nested or
        paravirtual /dev/kvm may boot firmware and then hang a Linux
        kernel, so the probe boots a guest; the answer is cached."""
        cache = guest.cache_root() / "virt-type"
        if cache.exists():
            return cache.read_text().strip()
        answer = "qemu"
        if Path("/dev/kvm").exists():
            dom = self._define("kvm", display_name="kvm-probe")
            try:
                dom.create()
                faults.wait_for_agent(dom, KVM_PROBE_SECONDS)
                answer = "kvm"
            except (TimeoutError, libvirt.libvirtError) as exc:
                self.log("KVM probe failed (%s): using TCG" % exc)
            finally:
                self._remove(dom)
        cache.write_text(answer)
        return answer

    def _define(self, virt_type, instance_uuid=None, display_name=None,
                panic_device=False, agent_channel=True, agent_delay=0,
                agent_log=False, graphics=False, stats_period=10):
        index = next(self._index)
        kernel, initrd, cmdline = self.image
        if agent_delay:
            cmdline += " lab.agent_delay=%d" % agent_delay
        if agent_log:
            cmdline += " lab.agent_log"
        console = self.workdir / ("console-%d.log" % index)
        return self.conn.defineXML(domain.domain_xml(
            index, kernel, initrd, cmdline, console,
            instance_uuid=instance_uuid or str(uuid.uuid4()),
            display_name=display_name, virt_type=virt_type,
            panic_device=panic_device, agent_channel=agent_channel,
            graphics=graphics, stats_period=stats_period))

    def boot_guest(self, wait=True, **options):
        dom = self._define(self.virt_type, **options)
        self.guests.append(dom)
        dom.create()
        if wait:
            faults.wait_for_agent(dom)
        return dom

    def _remove_leftovers(self):
        """Guests an interrupted earlier run left defined: the lab's own,
        and those real Nova in a local cloud defined (that cloud's
        database is gone with its work directory)."""
        for dom in self.conn.listAllDomains():
            if domain.NOVA_NS in dom.XMLDesc(0):
                self._remove(dom)

    @staticmethod
    def _remove(dom):
        domain.remove(dom)

    def remove_guests(self):
        """Every guest the lab booted (earlier tests' guests, before the
        domains of a real Nova share this libvirtd)."""
        for dom in self.guests:
            self._remove(dom)
        self.guests.clear()

    def stop(self):
        if self.conn is not None:
            self.remove_guests()
            self._remove_leftovers()  # and what real Nova defined
            try:
                self.conn.close()
            except libvirt.libvirtError:
                pass
            self.conn = None
        self.libvirtd.stop()
