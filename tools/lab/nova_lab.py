"""The lab on real Nova: the lab's libvirtd, a local cloud whose
nova-compute runs the libvirt driver on it (TCG unless KVM boots Linux
here), the tiny guest as AMI images in Glance, servers booted with
``--nic none``, and the host monitor watching the domains Nova defined.

    lab = NovaLab(workdir).start()
    server, dom = lab.server("web-1")      # ACTIVE, its agent answering
    lab.stop()

What nova-compute itself does meanwhile is in its log
(``nova_compute_log()``): its lifecycle handling and power-state sync.
"""
import time
from pathlib import Path

from tools.cloud import peers
from tools.cloud import real_nova
from tools.cloud import seed as seed_mod
from tools.lab import faults
from tools.lab import host
from tools.lab import lab as lab_mod
from tools.lab import monitor_process
from tools.lab import stack as stack_mod

HOSTNAME = stack_mod.HOSTNAME
# What Nova's libvirt driver logs about a guest that stopped by itself or
# whose power state it synchronises: read from nova-compute's log.
NOVA_COMPUTE_MARKS = (
    "VM Stopped (Lifecycle Event)", "VM Started (Lifecycle Event)",
    "VM Resumed (Lifecycle Event)",
    "Instance shutdown by itself. Calling the stop API",
    "During _sync_instance_power_state", "Synchronizing instance power state",
    "Instance destroyed successfully", "Instance spawned successfully",
    "Instance rebooted successfully", "Instance failed to shutdown in")


def can_run():
    ok, why = host.can_run()
    if not ok:
        return ok, why
    return real_nova.can_run()


class NovaLab:
    def __init__(self, workdir, log=print, mem_stats_period=10,
                 monitor_options="", lab=None, image_properties=None):
        """``lab``: a running Lab to use (and leave running); by default
        this starts its own.  ``image_properties``: more properties of the
        guest's images (e.g. ``os_shutdown_timeout``)."""
        self.workdir = Path(workdir)
        self.log = log
        self.mem_stats_period = mem_stats_period
        self.monitor_options = monitor_options
        self.lab, self._own_lab = lab, lab is None
        self.cloud = self.seed = self.monitor = None
        self.images = {}
        self.image_properties = image_properties

    def start(self, monitor=True):
        if self._own_lab:
            self.lab = lab_mod.Lab(self.workdir / "lab", log=self.log)
            self.lab.start()
        self.cloud = peers.LocalCloud(
            self.workdir / "cloud", nova="real", compute_driver="libvirt",
            compute_host=HOSTNAME, mem_stats_period=self.mem_stats_period)
        self.cloud.start(log=self.log)
        self.seed = seed_mod.Seeder(self.cloud)
        self.seed.segment_with_host(HOSTNAME)
        conn = self.seed.admin
        for agent in (True, False):
            self.images[agent] = real_nova.lab_guest_images(
                conn, name=self.seed.unique("lab-guest"), log=self.log,
                agent=agent, properties=self.image_properties)
        self.flavor = real_nova.tiny_flavor(conn)
        if monitor:
            self.start_monitor()
        return self

    def start_monitor(self, extra=""):
        self.monitor = monitor_process.MonitorProcess(
            self.workdir / "monitor", self.cloud, HOSTNAME,
            extra=self.monitor_options + extra)
        return self.monitor

    def server(self, name=None, agent=True, metadata=None, image=None,
               wait_agent=True):
        """Boot a server (HA_Enabled unless ``metadata`` says otherwise);
        (server, its libvirt domain)."""
        conn = self.seed.admin
        server = conn.compute.create_server(
            name=name or self.seed.unique("vm"),
            image_id=(image or self.images[agent]).id,
            flavor_id=self.flavor.id, networks="none",
            metadata={"HA_Enabled": "True"} if metadata is None
            else metadata)
        server = conn.compute.wait_for_server(server, interval=0.5,
                                              wait=180)
        dom = self.lab.conn.lookupByUUIDString(server.id)
        if wait_agent and agent:
            faults.wait_for_agent(dom, timeout=120)
        return server, dom

    def domain(self, server_id):
        """A fresh handle: Nova undefines and defines a domain again on
        start, hard reboot and rebuild."""
        return self.lab.conn.lookupByUUIDString(server_id)

    def wait_active(self, server_id, timeout=120):
        """Seconds until Nova says ACTIVE with no task in progress."""
        return self.wait_status(server_id, "ACTIVE", timeout)

    def wait_status(self, server_id, status, timeout=120, conn=None):
        """Seconds until Nova says ``status`` with no task in progress
        (``conn``: a connection of the caller's thread).  A timeout says
        what nova-compute logged as errors meanwhile."""
        compute = (conn or self.seed.admin).compute
        since = self.nova_compute_log_size()
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            server = compute.get_server(server_id)
            if server.status == status and not server.task_state:
                return time.monotonic() - started
            if server.status == "ERROR":
                break
            time.sleep(0.2)
        raise TimeoutError("server %s not %s within %s s (%s, %s); "
                           "nova-compute's errors meanwhile: %s" % (
                               server_id, status, timeout, server.status,
                               server.task_state,
                               self.nova_compute_errors(since) or "none"))

    def image_variant(self, agent=True, **properties):
        """Another root image of the lab's guest (the same kernel,
        initramfs and command line), with more ``properties`` (e.g.
        ``os_shutdown_timeout``)."""
        base = self.seed.admin.image.get_image(self.images[agent].id)
        if agent:
            properties["hw_qemu_guest_agent"] = "yes"
        return self.seed.admin.image.create_image(
            name=self.seed.unique("lab-guest"), disk_format="ami",
            container_format="ami", visibility="public",
            data=b"\0" * real_nova.ROOT_DISK_BYTES,
            kernel_id=base.kernel_id, ramdisk_id=base.ramdisk_id,
            os_command_line=base.os_command_line, **properties)

    def timed_recovery(self, server, dom, fault, quiet, agent=True):
        """Inject ``fault``; seconds from it until Masakari accepted the
        monitor's notification, Nova says ACTIVE again and the guest
        answers (its agent, or for a server without one (``agent``
        False) its kernel's balloon statistics as the monitor reads
        them); then, ``quiet`` seconds later (what nova-compute still
        does), the server's status and task, Nova's instance actions and
        nova-compute's own lines since the fault."""
        since = self.nova_compute_log_size()
        started, accepted, entry, masakari = stack_mod.fault_until_finished(
            self.monitor, self.seed, dom, fault)
        self.wait_active(server.id)
        active = time.monotonic() - started
        fresh = self.domain(server.id)
        if agent:
            faults.wait_for_agent(fresh, timeout=120)
        else:
            self.monitor.wait_for(lambda s: str(monitor_process.domain_view(
                s, fresh).get("kernel", "")).startswith("alive"),
                timeout=120)
        answering = time.monotonic() - started
        time.sleep(quiet)
        final = self.seed.admin.compute.get_server(server.id)
        return {"accepted": accepted, "active": active,
                "answering": answering, "masakari": masakari,
                "entry": entry, "final": (final.status, final.task_state),
                "actions": self.seed.actions(server.id),
                "nova_compute": self.nova_compute_log(since)}

    def nova_compute_log(self, since=0):
        """nova-compute's log lines that say what it did on its own
        (lifecycle events, power-state sync), from byte ``since``."""
        path = self.cloud.workdir / "nova-compute.log"
        with open(path, "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        return [line for line in text.splitlines()
                if any(mark in line for mark in NOVA_COMPUTE_MARKS)]

    def nova_compute_errors(self, since=0, last=10):
        """The last ``last`` ERROR lines of nova-compute's log from byte
        ``since``: why a lab operation did not finish."""
        path = self.cloud.workdir / "nova-compute.log"
        with open(path, "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        return [line for line in text.splitlines() if " ERROR " in line][
            -last:]

    def nova_compute_log_size(self):
        return (self.cloud.workdir / "nova-compute.log").stat().st_size

    def _delete_servers(self):
        compute = self.seed.admin.compute
        for server in list(compute.servers()):
            try:
                compute.delete_server(server.id)
                compute.wait_for_delete(server, wait=60)
            except Exception as exc:  # keep stopping the rest
                self.log("deleting server %s: %s" % (server.id, exc))

    def stop(self):
        if self.seed is not None and not self._own_lab:
            self._delete_servers()  # the shared lab goes on without them
        for part in (self.monitor, self.cloud,
                     self.lab if self._own_lab else None):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep stopping the rest
                    self.log("stopping %s: %s" % (type(part).__name__, exc))
