"""Command classes with osc-lib's TestCommand and openstacksdk's fakes."""
import datetime
from unittest import mock

from openstack.block_storage import block_storage_service
from openstack.compute import compute_service
from openstack.compute.v2 import server as sdk_server
from openstack import exceptions as sdk_exc
from openstack.image import image_service
from openstack.image.v2 import image as sdk_image
from openstack.instance_ha import instance_ha_service
from openstack.instance_ha.v1 import host as sdk_host
from openstack.instance_ha.v1 import segment as sdk_segment
from openstack.test import fakes
from osc_lib import exceptions
from osc_lib.test import base

from osc_instanceha.v1 import constants
from osc_instanceha.v1 import server_ha
from osc_instanceha.v1 import status


def fake_server(**attrs):
    defaults = dict(metadata={}, status="ACTIVE", compute_host="cmp-1",
                    attached_volumes=[], launched_at="2026-01-01T00:00:00")
    defaults.update(attrs)
    return fakes.generate_fake_resource(sdk_server.Server, **defaults)


def fake_image(**attrs):
    defaults = dict(hw_qemu_guest_agent=None,
                    updated_at="2025-01-01T00:00:00Z")
    defaults.update(attrs)
    return fakes.generate_fake_resource(sdk_image.Image, **defaults)


class CommandTest(base.TestCommand):
    def setUp(self):
        super().setUp()
        self.conn = mock.Mock()
        self.conn.compute = fakes.generate_fake_proxy(
            compute_service.ComputeService)
        self.conn.image = fakes.generate_fake_proxy(
            image_service.ImageService, "2")
        self.conn.block_storage = fakes.generate_fake_proxy(
            block_storage_service.BlockStorageService, "3")
        self.conn.instance_ha = fakes.generate_fake_proxy(
            instance_ha_service.InstanceHaService)
        self.app.client_manager.instanceha = self.conn
        # The fake proxies answer with random resources through side_effect;
        # each test states what the cloud holds instead.
        for proxy in (self.conn.compute, self.conn.image,
                      self.conn.block_storage, self.conn.instance_ha):
            for name in dir(proxy):
                method = getattr(proxy, name, None)
                if isinstance(method, mock.Mock):
                    method.side_effect = None


class TestEnable(CommandTest):
    def setUp(self):
        super().setUp()
        self.cmd = server_ha.EnableServerHA(self.app, None)
        self.image = fake_image(name="debian")
        self.server = fake_server(image={"id": self.image.id})
        self.conn.compute.find_server.return_value = self.server
        self.conn.image.get_image.return_value = self.image

    def test_parser(self):
        args = self.check_parser(
            self.cmd, ["a", "b", "--dry-run", "--no-image"],
            [("servers", ["a", "b"]), ("dry_run", True), ("no_image", True),
             ("all_projects", False)])
        self.assertTrue(args.no_image)

    def test_parser_needs_a_server(self):
        self.assertRaises(base.ParserException, self.check_parser,
                          self.cmd, [], [])

    def test_sets_property_by_image_id_and_merges_metadata(self):
        args = self.check_parser(self.cmd, [self.server.id], [])
        columns, rows = self.cmd.take_action(args)
        self.assertEqual(constants.ENABLE_COLUMNS, columns)
        self.assertEqual([(self.server.id, self.server.name, "set",
                           "set on image debian",
                           "no: rebuild the server to add the channel",
                           "ok")], list(rows))
        # By id, never the fetched Image: see cloud.set_agent_property.
        self.conn.image.update_image.assert_called_once_with(
            self.image.id, hw_qemu_guest_agent="yes")
        self.conn.compute.set_server_metadata.assert_called_once_with(
            self.server, HA_Enabled="True")

    def test_dry_run_writes_nothing(self):
        args = self.check_parser(self.cmd, [self.server.id, "--dry-run"], [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual("dry run: nothing changed", rows[0][-1])
        self.conn.image.update_image.assert_not_called()
        self.conn.compute.set_server_metadata.assert_not_called()

    def test_no_image_leaves_image_alone(self):
        args = self.check_parser(self.cmd, [self.server.id, "--no-image"],
                                 [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual("skipped (--no-image)", rows[0][3])
        self.conn.image.update_image.assert_not_called()
        self.conn.compute.set_server_metadata.assert_called_once()

    def test_forbidden_image_fails_without_touching_the_server(self):
        self.conn.image.update_image.side_effect = \
            sdk_exc.ForbiddenException("You are not authorized")
        args = self.check_parser(self.cmd, [self.server.id], [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual("not changed", rows[0][2])
        self.assertIn("ask its owner to set hw_qemu_guest_agent=yes, or use "
                      "--no-image", rows[0][-1])
        self.conn.compute.set_server_metadata.assert_not_called()

    def test_all_projects_refused_by_nova_is_a_row_error(self):
        """Real Nova answers 403 to a non-admin's all_tenants listing."""
        self.conn.compute.find_server.side_effect = sdk_exc.ForbiddenException(
            details="Policy doesn't allow os_compute_api:servers:detail:"
                    "get_all_tenants to be performed.", http_status=403)
        args = self.check_parser(self.cmd, ["web-1", "--all-projects"], [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual(
            "error: Nova refused to look 'web-1' up in all projects: HTTP "
            "403: Policy doesn't allow os_compute_api:servers:detail:"
            "get_all_tenants to be performed. (--all-projects is for "
            "admins)", rows[0][-1])
        self.conn.compute.set_server_metadata.assert_not_called()

    def test_run_fails_with_the_count(self):
        self.conn.compute.find_server.side_effect = [
            self.server, sdk_exc.NotFoundException("nope"), self.server]
        args = self.check_parser(self.cmd, ["a", "b", "c"], [])
        with mock.patch.object(self.cmd, "produce_output"):
            error = self.assertRaises(exceptions.CommandError,
                                      self.cmd.run, args)
        self.assertEqual("1 of 3 servers failed", str(error))

    def test_already_enabled_changes_nothing(self):
        self.server.metadata = {"HA_Enabled": "true"}
        self.image.hw_qemu_guest_agent = "yes"
        args = self.check_parser(self.cmd, [self.server.id], [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual(("already set", "already on image debian", "yes",
                          "ok"), rows[0][2:])
        self.conn.image.update_image.assert_not_called()
        self.conn.compute.set_server_metadata.assert_not_called()


class TestDisable(CommandTest):
    def setUp(self):
        super().setUp()
        self.cmd = server_ha.DisableServerHA(self.app, None)

    def test_sets_false_and_never_touches_the_image(self):
        server = fake_server(metadata={"HA_Enabled": "True"})
        self.conn.compute.find_server.return_value = server
        args = self.check_parser(self.cmd, [server.id], [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual([(server.id, server.name, "set False", "ok")], rows)
        self.conn.compute.set_server_metadata.assert_called_once_with(
            server, HA_Enabled="False")
        self.conn.image.update_image.assert_not_called()


class TestStatus(CommandTest):
    def setUp(self):
        super().setUp()
        self.cmd = status.ShowStatus(self.app, None)
        segment = fakes.generate_fake_resource(
            sdk_segment.Segment, name="seg", is_enabled=True)
        self.segment_list = mock.patch.object(
            sdk_segment.Segment, "list", return_value=[segment]).start()
        self.addCleanup(mock.patch.stopall)
        self.conn.instance_ha.hosts.return_value = [
            fakes.generate_fake_resource(sdk_host.Host, name="cmp-1",
                                         on_maintenance=False,
                                         reserved=False)]
        self.conn.instance_ha.notifications.return_value = []

    def test_parser(self):
        self.check_parser(
            self.cmd, ["--host", "cmp-1", "--all-projects", "--long"],
            [("host", "cmp-1"), ("all_projects", True), ("long", True),
             ("servers", []), ("since", "24")])

    def test_one_call_per_kind_whatever_the_server_count(self):
        images = [fake_image(hw_qemu_guest_agent="yes") for _ in range(3)]
        servers = [fake_server(image={"id": images[i % 3].id},
                               metadata={"HA_Enabled": "True"})
                   for i in range(120)]
        self.conn.compute.servers.return_value = iter(servers)
        self.conn.image.images.return_value = images
        args = self.check_parser(self.cmd, [], [])
        columns, rows = self.cmd.take_action(args)
        self.assertEqual(constants.STATUS_COLUMNS, columns)
        self.assertEqual(120, len(rows))
        self.assertEqual({"protected"}, {row[-1] for row in rows})
        self.conn.compute.servers.assert_called_once()
        self.conn.image.images.assert_called_once()
        self.conn.instance_ha.hosts.assert_called_once()
        self.conn.instance_ha.notifications.assert_called_once()
        self.conn.block_storage.volumes.assert_not_called()
        self.conn.compute.find_server.assert_not_called()

    def test_masakari_failure_is_unknown_not_protected(self):
        image = fake_image(hw_qemu_guest_agent="yes")
        self.conn.compute.servers.return_value = iter([fake_server(
            image={"id": image.id}, metadata={"HA_Enabled": "True"})])
        self.conn.image.images.return_value = [image]
        self.segment_list.side_effect = sdk_exc.HttpException(
            "boom", http_status=503)
        args = self.check_parser(self.cmd, [], [])
        _, rows = self.cmd.take_action(args)
        self.assertTrue(rows[0][-1].startswith(
            "unknown: Masakari unreachable: HTTP 503"), rows[0][-1])

    def test_unknown_server_is_a_command_error(self):
        self.conn.compute.find_server.side_effect = \
            sdk_exc.NotFoundException("nope")
        args = self.check_parser(self.cmd, ["ghost"], [])
        error = self.assertRaises(exceptions.CommandError,
                                  self.cmd.take_action, args)
        self.assertIn("no server named or with ID 'ghost'", str(error))

    def test_all_projects_refused_by_nova_is_one_line(self):
        """Real Nova answers 403 to a non-admin's all_tenants listing."""
        self.conn.compute.servers.side_effect = sdk_exc.ForbiddenException(
            details="Policy doesn't allow os_compute_api:servers:detail:"
                    "get_all_tenants to be performed.", http_status=403)
        args = self.check_parser(self.cmd, ["--all-projects"], [])
        error = self.assertRaises(exceptions.CommandError,
                                  self.cmd.take_action, args)
        self.assertEqual(
            "Nova refused to list the servers of all projects: HTTP 403: "
            "Policy doesn't allow os_compute_api:servers:detail:"
            "get_all_tenants to be performed. (--all-projects is for "
            "admins)", str(error))

    def test_a_property_newer_than_the_launch_is_not_protected(self):
        """Nova copied the image's properties at the launch: an image
        changed since may have got hw_qemu_guest_agent=yes after it."""
        image = fake_image(name="debian", hw_qemu_guest_agent="yes",
                           updated_at="2026-02-01T00:00:00Z")
        server = fake_server(image={"id": image.id},
                             metadata={"HA_Enabled": "True"},
                             launched_at="2026-01-01T00:00:00.000000")
        self.conn.compute.servers.return_value = iter([server])
        self.conn.image.images.return_value = [image]
        args = self.check_parser(self.cmd, [], [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual(
            "unknown: image debian changed after the server was launched, "
            "so the guest may lack the agent channel; rebuild the server to "
            "add it", rows[0][-1])

    def test_since_is_validated_before_any_request(self):
        for text in ("-1", "0", "nan", "inf", "soon"):
            args = self.check_parser(self.cmd, ["--since", text], [])
            error = self.assertRaises(exceptions.CommandError,
                                      self.cmd.take_action, args)
            self.assertTrue(str(error).startswith("--since must be "),
                            str(error))
            self.assertNotIn("\n", str(error))
        self.conn.compute.servers.assert_not_called()
        self.segment_list.assert_not_called()

    def test_since_reaches_the_notification_query(self):
        self.conn.compute.servers.return_value = iter([])
        args = self.check_parser(self.cmd, ["--since", "0.5"], [])
        self.cmd.take_action(args)
        since = datetime.datetime.strptime(
            self.conn.instance_ha.notifications.call_args.kwargs[
                "generated_since"], "%Y-%m-%dT%H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc)
        age = datetime.datetime.now(datetime.timezone.utc) - since
        self.assertTrue(29 * 60 < age.total_seconds() < 31 * 60, age)
