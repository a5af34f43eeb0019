"""The README's demo: instance HA end to end on this machine.

As root on Debian it runs the real thing: libvirtd, Keystone, Glance,
Masakari (API and engine) and Nova 34 (with Placement, MariaDB and
RabbitMQ; nova-compute's libvirt driver on that libvirtd), three tiny Nova
servers booted from the lab's guest (two with the real qemu-guest-agent,
one without), and the host monitor as its own process.  It protects the
servers with ``openstack instanceha enable``, then kills one guest's QEMU
process, hangs the second one's kernel (no panic device, Nova's default:
no libvirt event) and the third one's (no agent either: only the kernel
heartbeat sees it), showing detection, notification and recovery through
real Nova live with timings.  Where real Nova cannot run it uses the Nova
emulator on the same guests; without root it shows the cloud-side commands
only.  Everything is stopped and removed at the end.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.cloud import peers
from tools.cloud import seed as seed_mod
from tools.lab import faults
from tools.lab import host
from tools.lab import monitor_process

OPENSTACK = str(Path(sys.executable).with_name("openstack"))
DEMO_HEARTBEATS = monitor_process.heartbeat_options(5, 2, 3)


def run(clouds_yaml, *args, os_cloud="admin"):
    print("\n$ openstack --os-cloud %s %s" % (os_cloud, " ".join(args)),
          flush=True)
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(clouds_yaml))
    subprocess.run([OPENSTACK, "--os-cloud", os_cloud, *args], env=env)


def say(text):
    print("\n== " + text, flush=True)


def fault_and_watch(stack, dom, fault, timeout=120, agent=True,
                    server_id=None):
    """Inject ``fault`` and print each change of the monitor's view of
    ``dom`` until Masakari has finished and the guest answers again;
    returns the seconds that took.  ``agent``: the guest has one (else:
    until Nova says ACTIVE); ``server_id``: the real Nova server of
    ``dom``, whose status is shown too (and whose domain Nova defines
    again when it starts the server)."""
    started = time.monotonic()
    fault(dom)
    # the guest answers until the fault has taken hold
    while agent and faults.ping(dom, 1) and time.monotonic() - started < 5:
        time.sleep(0.1)
    seen = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = stack.monitor.status() or {}
        view = monitor_process.domain_view(state, dom)
        entry = next(iter(monitor_process.outbox_entries(state, dom)), None)
        lines = []
        if view.get("last_event"):
            # a lifecycle event the engine only records (DEFINED, say)
            # comes without a decision of its own
            lines.append("monitor: %s -> %s" % (
                view["last_event"], view.get("last_decision") or
                "recorded"))
        if view.get("heartbeat_failures") and entry is None:
            lines.append("monitor: %d failed heartbeat(s)"
                         % view["heartbeat_failures"])
        if view.get("last_forensics"):
            lines.append("forensics kept: %s" % view["last_forensics"])
        if server_id and entry:
            server = stack.seed.admin.compute.get_server(server_id)
            task = server.task_state
            lines.append("Nova: %s%s" % (server.status,
                                         " (%s)" % task if task else ""))
        if entry:
            lines.append("outbox: %s %s (attempts %d)" % (
                entry["event"], entry["state"], entry["attempts"]))
            if entry["notification_uuid"]:
                status = stack.seed.admin.instance_ha.get_notification(
                    entry["notification_uuid"]).status
                lines.append("Masakari notification %s: %s" % (
                    entry["notification_uuid"][:8], status))
        # ping only once Masakari is done: a hung agent blocks a ping ~5 s
        if any(line.endswith(": finished") for line in lines):
            if (faults.ping(stack.domain(server_id) if server_id else dom, 1)
                    if agent else stack.seed.admin.compute.get_server(
                        server_id).status == "ACTIVE"):
                lines.append("guest agent answers again" if agent else
                             "Nova: ACTIVE again")
        for line in lines:
            if line not in seen:
                seen.add(line)
                print("  +%5.2f s  %s" % (time.monotonic() - started, line),
                      flush=True)
        if "guest agent answers again" in lines or \
                "Nova: ACTIVE again" in lines:
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError("no recovery within %s s" % timeout)


def lab_demo(workdir):
    from tools.lab import stack as stack_mod

    stack = stack_mod.Stack(workdir, monitor_options=DEMO_HEARTBEATS).start()
    try:
        yaml = stack.cloud.clouds_yaml
        web = stack.lab.boot_guest()
        db = stack.lab.boot_guest(panic_device=True)
        app = stack.lab.boot_guest()
        # The guests were built with the agent channel, as Nova does for an
        # image with this property.
        image = stack.seed.image({"hw_qemu_guest_agent": "yes"})
        guests = (("web-1", web), ("db-1", db), ("app-1", app))
        for name, dom in guests:
            stack.seed.server(image.id, id=dom.UUIDString(), name=name,
                              host=stack_mod.HOSTNAME)
        say("three guests run on this host (%s), their agents answer; "
            "nothing is protected yet" % stack.lab.virt_type)
        run(yaml, "instanceha", "status")
        run(yaml, "instanceha", "enable", "web-1", "db-1", "app-1")
        run(yaml, "instanceha", "status", "--long")

        say("kill -9 of web-1's QEMU process")
        web_total = fault_and_watch(stack, web, faults.kill_qemu)

        say("kernel panic in db-1 (sysrq crash; the guest has a panic "
            "device)")
        db_total = fault_and_watch(stack, db, faults.hang_kernel)
        say("kernel hang in app-1 (no panic device, Nova's default: no "
            "libvirt event, QEMU runs on; only its agent falls silent). "
            "Heartbeats every 5 s, timeout 2 s, 3 failures")
        app_total = fault_and_watch(stack, app, faults.hang_kernel)
        run(yaml, "instanceha", "status", "--long")
        say("recovered: web-1 in %.1f s, db-1 in %.1f s, app-1 in %.1f s "
            "(detection, Masakari, stop, start, boot, agent)"
            % (web_total, db_total, app_total))
    finally:
        stack.stop()


def nova_demo(workdir):
    from tools.lab import nova_lab

    # Nova's defaults: the images set no os_shutdown_timeout
    stack = nova_lab.NovaLab(workdir, monitor_options=DEMO_HEARTBEATS)
    stack.start()
    try:
        yaml = stack.cloud.clouds_yaml
        web, web_dom = stack.server("web-1", metadata={})
        db, db_dom = stack.server("db-1", metadata={})
        app, app_dom = stack.server("app-1", agent=False, metadata={})
        say("three Nova servers run on this host (%s guests under real "
            "Nova 34); web-1 and db-1 have the guest agent, app-1 has "
            "none. Nothing is protected yet" % stack.lab.virt_type)
        run(yaml, "server", "list", "--long", "-c", "Name", "-c", "Status",
            "-c", "Host")
        run(yaml, "instanceha", "status")
        run(yaml, "instanceha", "enable", "--no-image", "app-1")
        run(yaml, "instanceha", "enable", "web-1", "db-1")
        run(yaml, "instanceha", "status", "--long")

        say("kill -9 of web-1's QEMU process: libvirt tells the monitor at "
            "once")
        web_total = fault_and_watch(stack, web_dom, faults.kill_qemu,
                                    server_id=web.id)
        say("kernel hang in db-1 (no panic device, Nova's default: no "
            "libvirt event, QEMU runs on): its agent falls silent and its "
            "kernel stops answering the balloon statistics. Heartbeats "
            "every 5 s, timeout 2 s, 3 failures; statistics every 10 s")
        say("Masakari's engine will ask Nova to stop it, and Nova would "
            "wait for a clean shutdown the hung guest never makes (its "
            "shutdown_timeout, 60 s, left at the default here). Once "
            "Masakari accepted the notification the monitor fences the "
            "guest (virDomainDestroy): Nova's stop finds it off, and "
            "Masakari starts it")
        db_total = fault_and_watch(stack, db_dom, faults.hang_kernel,
                                   timeout=240, server_id=db.id)
        say("kernel hang in app-1, which has no agent at all: only the "
            "kernel heartbeat can tell")
        app_total = fault_and_watch(
            stack, app_dom, faults.hang_kernel_from_host, agent=False,
            timeout=240, server_id=app.id)
        run(yaml, "instanceha", "status", "--long")
        say("recovered through real Nova: web-1 in %.1f s, db-1 in %.1f s "
            "(until the agent answers), app-1 in %.1f s (until ACTIVE): "
            "detection, Masakari, Nova's stop and start, the boot"
            % (web_total, db_total, app_total))
    finally:
        stack.stop()


def cloud_demo(workdir):
    cloud = peers.LocalCloud(workdir)
    cloud.start()
    try:
        seed = seed_mod.Seeder(cloud)
        seed.segment_with_host("compute-1")
        seed.compute_service("compute-2")
        shared = seed.image({"os_distro": "debian"}, visibility="private")
        web = seed.server(shared.id, name="web-1", host="compute-1")
        seed.server(shared.id, name="db-1", host="compute-1")
        seed.server(shared.id, name="batch-1", host="compute-2",
                    metadata={"HA_Enabled": "True"})
        yaml = cloud.clouds_yaml
        say("a failover segment holds compute-1; compute-2 is in none. "
            "Nothing is protected yet:")
        run(yaml, "instanceha", "status")
        run(yaml, "instanceha", "enable", "--dry-run", "web-1", "db-1")
        run(yaml, "instanceha", "enable", "web-1", "db-1", "nosuch-1")
        run(yaml, "image", "show", shared.id, "-c", "properties")
        run(yaml, "instanceha", "status", "--long")
        run(yaml, "instanceha", "disable", "db-1")
        run(yaml, "instanceha", "status", web["id"], "-f", "json")
        say("a project member's enable leaves the admin's public image "
            "alone and says so; the member sees the verdict it can check "
            "and is told what only an admin sees:")
        other = seed.image({"os_distro": "ubuntu"})
        mine = seed.server(other.id, name="app-1", project="demo")
        run(yaml, "instanceha", "enable", mine["name"], os_cloud="demo")
        run(yaml, "instanceha", "enable", "--no-image", mine["name"],
            os_cloud="demo")
        run(yaml, "instanceha", "status", os_cloud="demo")
    finally:
        cloud.stop()


def main(argv=None):
    from tools.lab import nova_lab

    argv = sys.argv[1:] if argv is None else argv
    ok, why = host.can_run()
    with tempfile.TemporaryDirectory(prefix="instanceha-demo-") as tmp:
        if ok and "--cloud-only" not in argv:
            real, not_real = nova_lab.can_run()
            if real and "--emulator" not in argv:
                nova_demo(Path(tmp))
            else:
                if not real:
                    say("real Nova cannot run here (%s): the Nova "
                        "emulator stands in" % not_real)
                lab_demo(Path(tmp))
        else:
            if not ok:
                say("the lab cannot run here (%s): showing the cloud-side "
                    "commands only" % why)
            cloud_demo(Path(tmp))
    print("\ndemo finished; everything it started is stopped and removed")


if __name__ == "__main__":
    main()
