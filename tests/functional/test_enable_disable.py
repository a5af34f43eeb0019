"""``openstack instanceha enable/disable`` through the real CLI.

Results are read back through a second path: ``openstack image show`` against
real Glance, ``openstack server show`` and the SDK against the emulator.
"""
import json


def image_properties(cli, image_id):
    return cli.json("image", "show", image_id)["properties"]


def server_properties(cli, server_id, os_cloud="admin"):
    return cli.json("server", "show", server_id, "-c", "properties",
                    os_cloud=os_cloud)["properties"]


def test_help_lists_the_commands(cli):
    out = cli.run("help", "instanceha").stdout
    for name in ("instanceha enable", "instanceha disable",
                 "instanceha status"):
        assert name in out
    assert "--dry-run" in cli.run("instanceha", "enable", "--help").stdout


def test_enable_sets_flag_and_property_and_keeps_the_rest(cli, seed):
    image = seed.image({"foo": "bar", "os_distro": "debian"},
                       visibility="private")
    server = seed.server(image.id, metadata={"owner": "team-a"})

    rows = cli.json("instanceha", "enable", server["name"])

    assert rows == [{
        "ID": server["id"], "Name": server["name"], "HA_Enabled": "set",
        "Guest Agent Property": "set on image %s" % image.name,
        "Agent Channel": "no: rebuild the server to add the channel",
        "Result": "ok"}]
    props = image_properties(cli, image.id)
    assert props["hw_qemu_guest_agent"] == "yes"
    assert props["foo"] == "bar" and props["os_distro"] == "debian"
    assert server_properties(cli, server["id"]) == {
        "owner": "team-a", "HA_Enabled": "True"}


def test_enable_is_idempotent(cli, seed):
    image = seed.image({"hw_qemu_guest_agent": "yes"})
    server = seed.server(image.id)
    cli.run("instanceha", "enable", server["id"])

    rows = cli.json("instanceha", "enable", server["id"])

    assert rows[0]["HA_Enabled"] == "already set"
    assert rows[0]["Guest Agent Property"] == \
        "already on image %s" % image.name
    assert rows[0]["Result"] == "ok"


def test_agent_channel_is_yes_when_image_predates_boot(cli, seed):
    image = seed.image({"hw_qemu_guest_agent": "yes"})
    server = seed.server(image.id)  # launched after the image was updated

    rows = cli.json("instanceha", "enable", server["id"])

    assert rows[0]["Agent Channel"] == "yes"


def test_dry_run_changes_nothing(cli, seed):
    image = seed.image({"foo": "bar"}, visibility="private")
    server = seed.server(image.id)

    rows = cli.json("instanceha", "enable", "--dry-run", server["id"])

    assert rows[0]["HA_Enabled"] == "would set"
    assert rows[0]["Guest Agent Property"] == \
        "would set on image %s" % image.name
    assert rows[0]["Result"] == "dry run: nothing changed"
    assert "hw_qemu_guest_agent" not in image_properties(cli, image.id)
    assert server_properties(cli, server["id"]) == {}


def test_many_servers_try_all_and_report_failures(cli, seed):
    image = seed.image()
    first, second = seed.server(image.id), seed.server(image.id)

    result = cli.run("instanceha", "enable", first["id"], "no-such-server",
                     second["id"], "-f", "json", check=False)

    assert result.returncode == 1
    assert "1 of 3 servers failed" in result.stderr
    rows = json.loads(result.stdout)
    assert [r["Result"] for r in rows] == [
        "ok",
        "error: no server named or with ID 'no-such-server' in this "
        "project (admins: --all-projects)",
        "ok"]
    for server in (first, second):
        assert server_properties(cli, server["id"]) == {"HA_Enabled": "True"}


def test_member_with_all_projects_gets_novas_refusal_per_server(cli, seed):
    server = seed.server(seed.image().id, project="demo")

    result = cli.run("instanceha", "enable", "--all-projects",
                     server["name"], "-f", "json", os_cloud="demo",
                     check=False)

    assert result.returncode == 1
    row, = json.loads(result.stdout)
    assert row["Result"] == (
        "error: Nova refused to look %r up in all projects: HTTP 403: "
        "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants "
        "to be performed. (--all-projects is for admins)" % server["name"])
    assert server_properties(cli, server["id"]) == {}


def test_ambiguous_name_is_refused(cli, seed):
    image = seed.image()
    name = seed.unique("twin")
    a = seed.server(image.id, name=name)
    b = seed.server(image.id, name=name)

    result = cli.run("instanceha", "enable", name, check=False)

    assert result.returncode == 1
    assert "more than one server is named %r: use its ID" % name \
        in result.stdout
    for server in (a, b):
        assert server_properties(cli, server["id"]) == {}


def test_boot_from_volume_sets_volume_image_metadata(cli, seed):
    server = seed.server(boot_volume={"image_metadata": {"foo": "bar"}})
    volume_id = server["os-extended-volumes:volumes_attached"][0]["id"]

    rows = cli.json("instanceha", "enable", server["id"])

    assert rows[0]["Guest Agent Property"] == "set on volume %s" % volume_id
    volume = seed.admin.block_storage.get_volume(volume_id)
    assert volume.volume_image_metadata == {
        "foo": "bar", "hw_qemu_guest_agent": "yes"}
    assert server_properties(cli, server["id"]) == {"HA_Enabled": "True"}


def test_a_shared_image_is_left_alone_unless_asked(cli, seed):
    """Issue 20: enable set the property on a public image of another
    project by default.  Now the row says what it would change; asked with
    --modify-shared-image, a project member meets Glance's refusal (real
    policy, real Keystone token) and nothing is changed half-way."""
    image = seed.image({"foo": "bar"})  # public, owned by the admin project
    server = seed.server(image.id, project="demo")

    rows = cli.json("instanceha", "enable", server["id"], os_cloud="demo")

    assert (rows[0]["HA_Enabled"], rows[0]["Guest Agent Property"],
            rows[0]["Result"]) == (
        "set", "not changed: image %s is public; --modify-shared-image "
        "would set hw_qemu_guest_agent=yes on it" % image.name, "ok")
    assert "hw_qemu_guest_agent" not in image_properties(cli, image.id)
    assert server_properties(cli, server["id"], os_cloud="demo") == {
        "HA_Enabled": "True"}

    other = seed.server(image.id, project="demo")
    result = cli.run("instanceha", "enable", "--modify-shared-image",
                     other["id"], "-f", "json", os_cloud="demo", check=False)

    assert result.returncode == 1
    assert "1 of 1 servers failed" in result.stderr
    row = json.loads(result.stdout)[0]
    assert row["HA_Enabled"] == "not changed"
    assert "may not modify image %s: HTTP 403" % image.name in row["Result"]
    assert "ask its owner to set hw_qemu_guest_agent=yes, or use --no-image" \
        in row["Result"]
    assert server_properties(cli, other["id"], os_cloud="demo") == {}
    assert "hw_qemu_guest_agent" not in image_properties(cli, image.id)


def test_other_projects_server_is_not_found_for_a_member(cli, seed):
    server = seed.server(seed.image().id, project="admin")

    result = cli.run("instanceha", "disable", server["id"], os_cloud="demo",
                     check=False)

    assert result.returncode == 1
    assert "no server named or with ID %r" % server["id"] in result.stderr


def test_disable_clears_flag_and_leaves_image(cli, seed):
    image = seed.image({"hw_qemu_guest_agent": "yes", "foo": "bar"})
    server = seed.server(image.id, metadata={"HA_Enabled": "True",
                                             "keep": "me"})

    rows = cli.json("instanceha", "disable", server["id"])

    assert rows[0]["HA_Enabled"] == "set False"
    assert server_properties(cli, server["id"]) == {
        "HA_Enabled": "False", "keep": "me"}
    props = image_properties(cli, image.id)
    assert props["hw_qemu_guest_agent"] == "yes" and props["foo"] == "bar"
    again = cli.json("instanceha", "disable", server["id"])
    assert again[0]["HA_Enabled"] == "already off"
