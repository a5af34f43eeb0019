"""Everything at once for the demo and the bench: the lab's libvirtd and
guests, the local cloud with the emulator acting on those guests, a
failover segment holding this lab host, and the monitor process."""
import time

from tools.cloud import peers
from tools.cloud import seed as seed_mod
from tools.lab import faults
from tools.lab import host
from tools.lab import lab as lab_mod
from tools.lab import monitor_process

HOSTNAME = "lab-compute"


def protected_guest(lab, seed, hostname=HOSTNAME, name=None, **options):
    """Boot a guest and register it as an HA-enabled server."""
    dom = lab.boot_guest(**options)
    seed.server(seed.image().id, id=dom.UUIDString(), host=hostname,
                name=name or "lab-" + dom.name(),
                metadata={"HA_Enabled": "True"})
    return dom


def wait_finished(seed, notification_uuid, timeout=90):
    """Masakari's final status for one notification."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = seed.admin.instance_ha.get_notification(
            notification_uuid).status
        if status in ("finished", "error", "failed", "ignored"):
            return status
        time.sleep(0.5)
    raise AssertionError("notification %s not done in %s s"
                         % (notification_uuid, timeout))


def fault_until_finished(monitor, seed, dom, fault, accepted_within=90,
                         finished_within=300):
    """Inject ``fault`` into ``dom`` and wait until the monitor's
    notification is accepted and Masakari is done with it: (the fault's
    monotonic time, seconds to accepted, the outbox entry, Masakari's
    final status)."""
    started = time.monotonic()
    fault(dom)
    state = monitor.wait_for(monitor_process.notification_accepted(dom),
                             timeout=accepted_within)
    accepted = time.monotonic() - started
    entry, = monitor_process.outbox_entries(state, dom)
    return started, accepted, entry, wait_finished(
        seed, entry["notification_uuid"], timeout=finished_within)


class Stack:
    def __init__(self, workdir, log=print, monitor_options=""):
        self.workdir = workdir
        self.log = log
        self.monitor_options = monitor_options
        self.lab = self.cloud = self.seed = self.monitor = None

    def start(self, monitor=True):
        self.lab = lab_mod.Lab(self.workdir / "lab", log=self.log).start()
        self.cloud = peers.LocalCloud(self.workdir / "cloud",
                                      libvirt_uri=host.URI)
        self.cloud.start(log=self.log)
        self.seed = seed_mod.Seeder(self.cloud)
        self.seed.segment_with_host(HOSTNAME)
        if monitor:
            self.monitor = monitor_process.MonitorProcess(
                self.workdir, self.cloud, HOSTNAME,
                extra=self.monitor_options)
        return self

    def guest(self, **options):
        return protected_guest(self.lab, self.seed, **options)

    def kill_and_recover(self, dom):
        """kill -9 the guest's QEMU; seconds until Masakari accepted the
        notification and until the guest's agent answers again."""
        return self.fault_and_recover(dom, faults.kill_qemu)

    def hang_and_recover(self, dom):
        """Hang the guest's kernel (no panic device): found only by the
        heartbeats."""
        self.monitor.wait_for(lambda s: monitor_process.domain_view(
            s, dom).get("heartbeat") == "monitored")
        return self.fault_and_recover(dom, faults.hang_kernel, timeout=180)

    def fault_and_recover(self, dom, fault, timeout=60):
        killed = time.monotonic()
        fault(dom)
        state = self.monitor.wait_for(
            monitor_process.notification_accepted(dom), timeout=timeout)
        accepted = time.monotonic() - killed
        entry = monitor_process.outbox_entries(state, dom)[0]
        status = wait_finished(self.seed, entry["notification_uuid"])
        faults.wait_for_agent(dom, timeout=120)
        return accepted, time.monotonic() - killed, status

    def stop(self):
        for part in (self.monitor, self.cloud, self.lab):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep stopping the rest
                    self.log("stopping %s: %s" % (type(part).__name__, exc))
