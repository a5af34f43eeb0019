"""``openstack instanceha status`` through the real CLI against real
Masakari, Glance and Keystone."""
import json
import re

from osc_instanceha.prometheus import NOT_CHECKED


def status(cli, *args, **kwargs):
    return {row["Name"]: row for row in
            cli.json("instanceha", "status", "--long", *args, **kwargs)}


def test_verdicts_name_every_reason(cli, seed):
    good_host, maint_host, off_host, lone_host = (
        seed.unique("cmp") for _ in range(4))
    seed.segment_with_host(good_host)
    seed.segment_with_host(maint_host, on_maintenance=True)
    seed.segment_with_host(off_host, enabled=False)
    seed.compute_service(lone_host)
    agent = seed.image({"hw_qemu_guest_agent": "yes"})
    bare = seed.image()
    on = {"HA_Enabled": "True"}
    servers = {
        "protected": seed.server(agent.id, host=good_host, metadata=on),
        "flag-off": seed.server(agent.id, host=good_host),
        "no-agent": seed.server(bare.id, host=good_host, metadata=on),
        "maintenance": seed.server(agent.id, host=maint_host, metadata=on),
        "segment-off": seed.server(agent.id, host=off_host, metadata=on),
        "no-segment": seed.server(agent.id, host=lone_host, metadata=on),
        "stopped": seed.server(agent.id, host=good_host, metadata=on,
                               vm_state="stopped"),
        "bfv": seed.server(host=good_host, metadata=on, boot_volume={
            "image_metadata": {"hw_qemu_guest_agent": "True"}}),
    }
    names = {s["name"]: label for label, s in servers.items()}

    rows = status(cli, *names)

    verdicts = {names[name]: (row["Verdict"], row["Reasons"])
                for name, row in rows.items()}
    # no Prometheus URL: the host side is not checked, so nothing is
    # "protected" and every row says so
    assert verdicts == {
        "protected": ("unknown", [NOT_CHECKED]),
        "flag-off": ("not protected", [
            "HA_Enabled is not true in the server metadata", NOT_CHECKED]),
        "no-agent": ("unknown", [
            NOT_CHECKED, "no agent hangs: image %s lacks "
            "hw_qemu_guest_agent=yes" % bare.name]),
        "maintenance": ("not protected", [
            "host %s is on maintenance" % maint_host, NOT_CHECKED]),
        "segment-off": ("not protected", [
            "segment %s is disabled" % rows[servers["segment-off"][
                "name"]]["Segment"], NOT_CHECKED]),
        "no-segment": ("not protected", [
            "host %s is not in any failover segment" % lone_host,
            NOT_CHECKED]),
        "stopped": ("not protected", [
            "server is SHUTOFF (only running servers are monitored)",
            NOT_CHECKED]),
        "bfv": ("unknown", [NOT_CHECKED]),
    }
    protected = rows[servers["protected"]["name"]]
    assert protected["HA_Enabled"] is True
    assert protected["Agent Channel"] is True
    assert protected["Protects Against"] == ["deaths", "kernel hangs",
                                             "agent hangs"]
    assert protected["On Maintenance"] is False
    assert protected["Host"] == good_host
    assert rows[servers["no-agent"]["name"]]["Agent Channel"] is False
    assert rows[servers["no-agent"]["name"]]["Protects Against"] == [
        "deaths", "kernel hangs"]
    assert rows[servers["no-segment"]["name"]]["Segment"] is None
    assert rows[servers["bfv"]["name"]]["Agent Source"].startswith("volume ")


def test_last_notification_is_shown(cli, seed):
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    server = seed.server(seed.image({"hw_qemu_guest_agent": "yes"}).id,
                         host=host, metadata={"HA_Enabled": "True"})
    seed.admin.instance_ha.create_notification(
        type="VM", hostname=host, generated_time="2026-01-01T00:00:00",
        payload={"event": "LIFECYCLE", "instance_uuid": server["id"],
                 "vir_domain_event": "STOPPED_FAILED"})

    row = status(cli, server["id"], "--since", "1000000")[server["name"]]

    assert row["Last Notification"].startswith(
        "LIFECYCLE/STOPPED_FAILED ")
    assert row["Notification Status"] in (
        "new", "running", "finished", "error", "failed")


def test_json_output_is_real_json(cli, seed):
    server = seed.server(seed.image().id)

    out = cli.run("instanceha", "status", server["id"], "-f", "json").stdout

    rows = json.loads(out)
    assert list(rows[0]) == ["ID", "Name", "Host", "HA_Enabled", "Verdict",
                             "Protects Against", "Reasons"]
    assert rows[0]["HA_Enabled"] is False
    assert rows[0]["Reasons"][0] == \
        "HA_Enabled is not true in the server metadata"


def test_unknown_server_is_a_clear_error(cli):
    result = cli.run("instanceha", "status", "no-such-server", check=False)

    assert result.returncode == 1
    assert "no server named or with ID 'no-such-server'" in result.stderr


def test_member_sees_what_it_cannot_know(cli, seed):
    """A non-admin sees neither compute hosts nor Masakari (admin-only
    policy): the verdict says "unknown", never a false "protected"."""
    image = seed.image({"hw_qemu_guest_agent": "yes"})
    server = seed.server(image.id, project="demo",
                         metadata={"HA_Enabled": "True"})

    row = status(cli, server["id"], os_cloud="demo")[server["name"]]

    assert row["Host"] is None
    assert (row["Verdict"], row["Reasons"]) == ("unknown", [
        "only an admin sees the compute host, its failover segment and its "
        "monitor"])


def test_member_with_all_projects_gets_novas_refusal(cli, seed):
    """Nova refuses a non-admin's all_tenants listing with a 403 (the
    emulator did not, before real Nova showed it): one line, no trace."""
    seed.server(seed.image().id, project="demo")

    result = cli.run("instanceha", "status", "--all-projects",
                     os_cloud="demo", check=False)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Nova refused to list the servers of all projects: HTTP 403: "
        "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants "
        "to be performed. (--all-projects is for admins)")


def test_masakari_down_is_reported_not_hidden(cli, seed, local_cloud):
    server = seed.server(seed.image({"hw_qemu_guest_agent": "yes"}).id,
                         metadata={"HA_Enabled": "True"})
    local_cloud.stop_service("masakari")
    try:
        row = status(cli, server["id"])[server["name"]]
    finally:
        local_cloud.start_masakari()

    assert row["Verdict"] == "unknown"
    assert row["Reasons"][0].startswith("Masakari unreachable: ")


def _request_urls(cli, *args):
    result = cli.run("--debug", "instanceha", "status", *args, "-f", "json")
    return re.findall(r"^REQ: curl -g -i -X (\w+) (\S+)", result.stderr,
                      re.MULTILINE), json.loads(result.stdout)


def test_request_count_does_not_grow_with_servers(cli, seed):
    images = [seed.image({"hw_qemu_guest_agent": "yes"}), seed.image()]
    hosts = {size: seed.unique("cmp") for size in (10, 200)}
    for host in hosts.values():  # every segment exists for both counts
        seed.segment_with_host(host)
    counts = {}
    for size, host in hosts.items():
        for index in range(size):
            seed.server(images[index % 2].id, host=host,
                        metadata={"HA_Enabled": "True"})
        requests, rows = _request_urls(cli, "--host", host)
        assert len(rows) == size
        assert sum("no agent hangs: " in " ".join(r["Reasons"])
                   for r in rows) == size // 2
        counts[size] = requests
    print("status requests: 10 servers -> %d, 200 servers -> %d"
          % (len(counts[10]), len(counts[200])))
    assert len(counts[200]) == len(counts[10])


STALE = ("agent hangs not known: image %s changed after the server was "
         "launched (rebuild the server if it got hw_qemu_guest_agent since)")


def test_property_added_after_the_launch_needs_a_rebuild(cli, seed):
    """Without Nova 2.98: enable says "rebuild the server to add the
    channel"; status agrees until the server is rebuilt (a hard reboot
    does not do it)."""
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    image = seed.image(visibility="private")  # the project's own
    server = seed.server(image.id, host=host,
                         launched_at="2020-01-01T00:00:00.000000")

    cli.run("instanceha", "enable", server["id"])
    cli.run("server", "reboot", "--hard", server["id"])
    before = status(cli, server["id"])[server["name"]]
    cli.run("server", "rebuild", "--image", image.id, server["id"])
    after = status(cli, server["id"])[server["name"]]

    assert before["Agent Channel"] is None
    assert before["Reasons"] == [NOT_CHECKED, STALE % image.name]
    assert after["Agent Channel"] is True
    assert after["Reasons"] == [NOT_CHECKED]


def test_with_2_98_a_later_edit_of_the_image_changes_nothing(cli, seed):
    """Issue 20: any edit of an image after the launch (the operator
    guide's own os_shutdown_timeout) turned every server of it into
    "unknown ... rebuild".  With 2.98 the properties the instance was built
    with decide."""
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    image = seed.image({"hw_qemu_guest_agent": "yes"})
    server = seed.server(image.id, host=host, metadata={"HA_Enabled": "1"},
                         launched_at="2020-01-01T00:00:00.000000")
    seed.admin.image.update_image(image.id, os_shutdown_timeout="120")
    seed.max_microversion("2.98")
    try:
        row = status(cli, server["id"])[server["name"]]
    finally:
        seed.max_microversion("2.96")
    assert row["Agent Channel"] is True
    assert row["Reasons"] == [NOT_CHECKED]


def test_since_must_be_a_positive_finite_number_of_hours(cli):
    for value, message in (
            ("-5", "--since must be more than 0 hours, not '-5'"),
            ("nan", "--since must be a finite number of hours, not 'nan'"),
            ("inf", "--since must be a finite number of hours, not 'inf'")):
        result = cli.run("instanceha", "status", "--since=" + value,
                         check=False)
        assert result.returncode == 1
        assert result.stderr.strip() == message
