"""The plugin, the monitor and Masakari against real Nova 34.

The ``nova_cloud`` fixture runs real Nova and Placement (fake virt driver:
no guests, every action completes at once) behind the local cloud's
Keystone, with the images in its Glance.  Servers are booted with
``openstack server create --nic none`` from AMI-style images, as the lab's
tiny guest will be.  Skipped, with the reason printed, where the cloud
cannot run (see tools/cloud/real_nova.py).
"""
import subprocess
import time

import pytest
from openstack import exceptions as sdk_exc

from monitor import nova_recovery
from osc_instanceha.prometheus import NOT_CHECKED
from osc_instanceha.protection import ADMIN_ONLY
from tests import monitor_harness as harness
from tests.functional.test_monitor_masakari import MONITOR
from tests.functional.test_monitor_masakari import monitor_conf
from tools.cloud import real_nova
from tools.lab.guest import CMDLINE

HOST = real_nova.COMPUTE_HOST


@pytest.fixture(scope="module")
def ami(nova_seed, tmp_path_factory):
    """Makes AMI-style images; the kernel and initramfs are placeholders
    (the fake driver boots nothing)."""
    files = tmp_path_factory.mktemp("guest")
    (files / "vmlinux").write_bytes(b"\x7fELF" + bytes(4092))
    (files / "initrd.cpio").write_bytes(bytes(4096))

    def make(agent=True):
        return real_nova.guest_images(
            nova_seed.admin, files / "vmlinux", files / "initrd.cpio",
            CMDLINE, nova_seed.unique("ami"), agent=agent)
    return make


@pytest.fixture(scope="module")
def flavor(nova_seed):
    return real_nova.tiny_flavor(nova_seed.admin)


@pytest.fixture(scope="module")
def segment(nova_seed):
    return nova_seed.segment_with_host(HOST)


def boot(seed, image, flavor, project="admin", metadata=None):
    """A server without networks, ACTIVE (openstacksdk: it polls faster
    than ``openstack server create --wait``)."""
    conn = seed.admin if project == "admin" else seed.demo
    server = conn.compute.create_server(
        name=seed.unique("vm"), image_id=image.id, flavor_id=flavor.id,
        networks="none", metadata=metadata or {})
    server = conn.compute.wait_for_server(server, interval=0.5, wait=60)
    return {"id": server.id, "name": server.name}


def status_row(cli, server_id, os_cloud="admin"):
    extra = ("--all-projects",) if os_cloud == "admin" else ()
    row, = cli.json("instanceha", "status", "--long", *extra, server_id,
                    os_cloud=os_cloud)
    return row


def wait_status(seed, server_id, status, timeout=60):
    compute = seed.admin.compute
    return compute.wait_for_server(compute.get_server(server_id),
                                   status=status, failures=["ERROR"],
                                   interval=0.5, wait=timeout)


def test_masakari_finds_the_real_compute_service(nova_seed, segment):
    ha = nova_seed.admin.instance_ha

    hosts = [h.name for h in ha.hosts(segment.uuid)]
    with pytest.raises(sdk_exc.BadRequestException) as refused:
        ha.create_host(segment.uuid, name="not-a-compute-host",
                       type="COMPUTE", control_attributes="SSH")

    assert hosts == [HOST]
    assert "Compute service with name not-a-compute-host could not be " \
        "found" in str(refused.value)


def test_boot_with_nic_none_from_ami_images(nova_cli, nova_seed, ami,
                                            flavor):
    image = ami()

    server = nova_cli.json(
        "server", "create", "--image", image.id, "--flavor", flavor.id,
        "--nic", "none", "--wait", nova_seed.unique("vm"), os_cloud="demo")

    shown = nova_seed.admin.compute.get_server(server["id"])
    assert (shown.status, shown.compute_host, shown.vm_state,
            shown.power_state, shown.task_state) == (
                "ACTIVE", HOST, "active", 1, None)
    assert shown.image["id"] == image.id
    assert shown.addresses == {}
    assert shown.launched_at
    kernel = nova_seed.admin.image.get_image(image.kernel_id)
    ramdisk = nova_seed.admin.image.get_image(image.ramdisk_id)
    stored = nova_seed.admin.image.get_image(image.id)  # as Glance keeps it
    assert (kernel.disk_format, ramdisk.disk_format, stored.disk_format) == (
        "aki", "ari", "ami")
    assert stored.os_command_line == CMDLINE
    assert stored.hw_qemu_guest_agent == "yes"


def test_enable_then_rebuild_gives_the_guest_the_agent_channel(
        nova_cli, nova_seed, ami, flavor, segment):
    """Nova 34 shows the properties the instance was built with (2.98):
    before the rebuild it was built without the agent property, after it
    with it; the image's own update time plays no part."""
    image = ami(agent=False)
    server = boot(nova_seed, image, flavor, project="demo")
    launched = nova_seed.admin.compute.get_server(server["id"]).launched_at

    enabled, = nova_cli.json("instanceha", "enable", "--all-projects",
                             "--modify-shared-image", server["id"])
    before = status_row(nova_cli, server["id"])
    demo_view = status_row(nova_cli, server["id"], os_cloud="demo")
    time.sleep(1)  # Nova and Glance keep whole seconds
    nova_cli.run("server", "rebuild", "--wait", server["id"],
                 os_cloud="demo")
    rebuilt = nova_seed.admin.compute.get_server(server["id"])
    after = status_row(nova_cli, server["id"])

    assert enabled == {
        "ID": server["id"], "Name": server["name"], "HA_Enabled": "set",
        "Guest Agent Property": "set on image %s" % image.name,
        "Agent Channel": "no: rebuild the server to add the channel",
        "Result": "ok"}
    assert (before["Status"], before["Host"], before["HA_Enabled"],
            before["Agent Channel"], before["Segment"]) == (
                "ACTIVE", HOST, True, False, segment.name)
    assert before["Reasons"] == [
        NOT_CHECKED, "built without hw_qemu_guest_agent=yes, which image "
        "%s has now (rebuild the server for agent hangs)" % image.name]
    assert before["Protects Against"] == ["deaths", "kernel hangs"]
    assert demo_view["Host"] is None  # admin only, in real Nova too
    assert demo_view["Reasons"][0] == ADMIN_ONLY
    assert rebuilt.launched_at > launched
    assert after["Agent Channel"] is True
    assert (after["Verdict"], after["Reasons"]) == ("unknown", [NOT_CHECKED])


def test_member_with_all_projects_gets_novas_refusal(nova_cli):
    """Nova 34's policy: listing all projects' servers is for admins."""
    result = nova_cli.run("instanceha", "status", "--all-projects",
                          os_cloud="demo", check=False)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Nova refused to list the servers of all projects: HTTP 403: "
        "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants "
        "to be performed. (--all-projects is for admins)")


def test_stop_and_start_show_in_the_verdict(nova_cli, nova_seed, ami,
                                            flavor, segment):
    server = boot(nova_seed, ami(), flavor, metadata={"HA_Enabled": "True"})
    launched = nova_seed.admin.compute.get_server(server["id"]).launched_at

    running = status_row(nova_cli, server["id"])
    nova_cli.run("server", "stop", server["id"])
    stopped_server = wait_status(nova_seed, server["id"], "SHUTOFF")
    stopped = status_row(nova_cli, server["id"])
    nova_cli.run("server", "start", server["id"])
    started_server = wait_status(nova_seed, server["id"], "ACTIVE")
    started = status_row(nova_cli, server["id"])

    assert (running["Verdict"], running["Agent Channel"]) == ("unknown",
                                                              True)
    assert stopped_server.power_state == 4
    assert (stopped["Verdict"], stopped["Reasons"]) == ("not protected", [
        "server is SHUTOFF (only running servers are monitored)",
        NOT_CHECKED])
    assert (started["Verdict"], started["Reasons"]) == ("unknown",
                                                        [NOT_CHECKED])
    # Nova moves launched_at on a rebuild only: not on stop and start
    assert started_server.launched_at == launched
    assert nova_seed.actions(server["id"]) == ["create", "stop", "start"]


def test_nova_backend_asks_real_nova(nova_cli, nova_seed, ami, flavor):
    """The monitor's nova backend, state by state, on one server."""
    conn = nova_seed.admin
    server = boot(nova_seed, ami(), flavor, metadata={"HA_Enabled": "True"})
    uuid = server["id"]
    recover = nova_recovery.NovaRecovery(lambda: conn, action_timeout=30)

    def notify(event="LIFECYCLE", hostname=HOST):
        return recover({"type": "VM", "hostname": hostname,
                        "generated_time": "2026-01-01T00:00:00",
                        "payload": {"event": event, "instance_uuid": uuid,
                                    "vir_domain_event": "STOPPED_FAILED"}})

    answers = {"active": notify()}
    wait_status(nova_seed, uuid, "ACTIVE")
    conn.compute.stop_server(uuid)
    wait_status(nova_seed, uuid, "SHUTOFF")
    answers["stopped"] = notify()
    wait_status(nova_seed, uuid, "ACTIVE")
    conn.compute.reset_server_state(uuid, "error")
    answers["error"] = notify()
    wait_status(nova_seed, uuid, "ACTIVE")
    answers["hang"] = notify("QEMU_GUEST_AGENT_ERROR")
    wait_status(nova_seed, uuid, "ACTIVE")
    answers["moved"] = notify(hostname="compute-elsewhere")
    conn.compute.set_server_metadata(uuid, HA_Enabled="False")
    answers["disabled"] = notify()

    assert {k: (a.kind, a.detail) for k, a in answers.items()} == {
        "active": ("accepted", "Nova: stop, start requested (QEMU process "
                               "gone, vm_state active)"),
        "stopped": ("accepted", "Nova: start requested (QEMU process gone, "
                                "vm_state stopped)"),
        "error": ("accepted", "Nova: reset-state active, stop, start "
                              "requested (QEMU process gone, vm_state "
                              "error)"),
        "hang": ("accepted", "Nova: hard reboot requested (hung guest)"),
        "moved": ("rejected", "the server is now on host %r, not "
                              "'compute-elsewhere'" % HOST),
        "disabled": ("rejected", "HA_Enabled is not set on the server"),
    }
    assert nova_seed.actions(uuid) == [
        "create", "stop", "start", "stop", "start", "resetState",
        "resetState", "stop", "start", "reboot"]


def test_monitor_to_masakari_to_real_nova(tmp_path, nova_cloud, nova_cli,
                                          nova_seed, ami, flavor, segment,
                                          domains):
    """A domain of the test driver carries the server's UUID: its death
    goes to Masakari, whose engine stops and starts the server in Nova."""
    server = boot(nova_seed, ami(), flavor, metadata={"HA_Enabled": "True"})
    dom, = domains.create(uuids=[server["id"]])
    entry = harness.one_death_delivered(harness.load_conf(
        monitor_conf(tmp_path, nova_cloud, HOST)), dom)
    ha = nova_seed.admin.instance_ha
    deadline = time.monotonic() + 60
    while ha.get_notification(entry["notification_uuid"]).status not in (
            "finished", "error", "failed", "ignored"):
        assert time.monotonic() < deadline, "Masakari did not finish"
        time.sleep(0.5)
    notification = ha.get_notification(entry["notification_uuid"])
    row = status_row(nova_cli, server["id"])

    assert notification.status == "finished"
    assert [step["name"] for step in
            notification.recovery_workflow_details] == [
        "StopInstanceTask", "StartInstanceTask", "ConfirmInstanceActiveTask"]
    assert nova_seed.admin.compute.get_server(server["id"]).status == \
        "ACTIVE"
    assert nova_seed.actions(server["id"]) == ["create", "stop", "start"]
    assert row["Last Notification"].startswith("LIFECYCLE/STOPPED_FAILED "
                                               "finished at ")
    assert (row["Verdict"], row["Reasons"]) == ("unknown", [NOT_CHECKED])


def test_check_finds_the_real_compute_service(tmp_path, nova_cloud):
    path = monitor_conf(tmp_path, nova_cloud, HOST)
    path.write_text(path.read_text() + "[recovery]\nbackend = nova\n")

    result = subprocess.run([MONITOR, "check", "--config-file", str(path)],
                            capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   nova      recovery through Nova for nova-compute on %r" \
        % HOST in result.stdout


def test_neutron_is_only_asked_to_list(nova_cloud):
    """Last in this file: every call Nova made to the Neutron stand-in
    for the servers above (no network: --nic none)."""
    import requests

    seen = requests.get(nova_cloud.neutron_url + "/_standin/requests",
                        timeout=10).json()["requests"]

    assert {(r["method"], r["path"], r["status"]) for r in seen} == {
        ("GET", "/v2.0/ports", 200), ("GET", "/v2.0/networks", 200)}
    shared = {tuple(r["query"].get("shared", [])) for r in seen
              if r["path"] == "/v2.0/networks"}
    assert shared == {("False",), ("True",)}
