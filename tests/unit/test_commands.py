"""Command classes with osc-lib's TestCommand and openstacksdk's fakes."""
import argparse
import datetime
import time
import uuid
from unittest import mock

import fixtures

from openstack.block_storage import block_storage_service
from openstack.compute import compute_service
from openstack.compute.v2 import server as sdk_server
from openstack.compute.v2 import service as sdk_service
from openstack import exceptions as sdk_exc
from openstack.image import image_service
from openstack.image.v2 import image as sdk_image
from openstack.instance_ha import instance_ha_service
from openstack.instance_ha.v1 import host as sdk_host
from openstack.instance_ha.v1 import segment as sdk_segment
from openstack.test import fakes
from osc_lib import exceptions
from osc_lib.test import base

from osc_instanceha import prometheus
from osc_instanceha import protection
from osc_instanceha.v1 import constants
from osc_instanceha.v1 import monitor_list
from osc_instanceha.v1 import server_ha
from osc_instanceha.v1 import status
from tests.unit import prometheus_api


PROJECT = "project-a"


def fake_server(**attrs):
    defaults = dict(metadata={}, status="ACTIVE", compute_host="cmp-1",
                    attached_volumes=[], launched_at="2026-01-01T00:00:00",
                    microversion="2.96")
    defaults.update(attrs)
    return fakes.generate_fake_resource(sdk_server.Server, **defaults)


def fake_image(**attrs):
    defaults = dict(hw_qemu_guest_agent=None,
                    updated_at="2025-01-01T00:00:00Z", owner=PROJECT,
                    owner_id=PROJECT, visibility="private")
    defaults.update(attrs)
    return fakes.generate_fake_resource(sdk_image.Image, **defaults)


class CommandTest(base.TestCommand):
    def setUp(self):
        super().setUp()
        self.conn = mock.Mock()
        self.conn.current_project_id = PROJECT
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


class _Enable(CommandTest):
    def setUp(self):
        super().setUp()
        self.cmd = server_ha.EnableServerHA(self.app, None)
        self.image = fake_image(name="debian")
        self.server = fake_server(image={"id": self.image.id})
        self.conn.compute.find_server.return_value = self.server
        self.conn.image.get_image.return_value = self.image


class TestEnable(_Enable):
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


class TestEnableSharedImages(_Enable):
    """Issue 20: enable set the property on a public or shared image of
    someone else by default."""

    def test_a_public_image_is_left_alone_and_the_row_says_so(self):
        self.image.visibility = "public"
        args = self.check_parser(self.cmd, [self.server.id], [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual(("set", "not changed: image debian is public; "
                          "--modify-shared-image would set "
                          "hw_qemu_guest_agent=yes on it", "ok"),
                         (rows[0][2], rows[0][3], rows[0][-1]))
        self.conn.image.update_image.assert_not_called()
        self.conn.compute.set_server_metadata.assert_called_once_with(
            self.server, HA_Enabled="True")

    def test_another_project_s_image_is_left_alone(self):
        self.image.owner = self.image.owner_id = "project-b"
        args = self.check_parser(self.cmd, [self.server.id], [])
        _, rows = self.cmd.take_action(args)
        self.assertIn("belongs to project project-b", rows[0][3])
        self.conn.image.update_image.assert_not_called()

    def test_modify_shared_image_changes_it(self):
        self.image.visibility = "shared"
        args = self.check_parser(
            self.cmd, [self.server.id, "--modify-shared-image"],
            [("modify_shared_image", True)])
        _, rows = self.cmd.take_action(args)
        self.assertEqual("set on image debian", rows[0][3])
        self.conn.image.update_image.assert_called_once_with(
            self.image.id, hw_qemu_guest_agent="yes")

    def test_no_image_and_modify_shared_image_exclude_each_other(self):
        self.assertRaises(base.ParserException, self.check_parser, self.cmd,
                          ["x", "--no-image", "--modify-shared-image"], [])


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


def as_dicts(columns, rows):
    """Rows as dicts, each value as ``-f json`` would give it."""
    return [{c: (v.machine_readable() if hasattr(v, "machine_readable")
                 else v) for c, v in zip(columns, row, strict=True)}
            for row in rows]


class _Status(CommandTest):
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
        self.prometheus = prometheus_api.PrometheusAPI()
        self.addCleanup(self.prometheus.close)
        self.prometheus.current = prometheus_api.healthy("cmp-1",
                                                         time.time())
        # the environment of the machine running the tests stays out
        for name in prometheus.SOURCES.values():
            self.useFixture(fixtures.EnvironmentVariable(name))

    def run_status(self, *argv, prom=True):
        argv = list(argv) + (["--prometheus-url", self.prometheus.url]
                             if prom else [])
        args = self.check_parser(self.cmd, argv, [])
        return as_dicts(*self.cmd.take_action(args))


class TestStatus(_Status):
    def test_parser(self):
        self.check_parser(
            self.cmd, ["--host", "cmp-1", "--all-projects", "--long"],
            [("host", "cmp-1"), ("all_projects", True), ("long", True),
             ("servers", []), ("since", "24"), ("prometheus_url", None)])

    def test_one_call_per_kind_whatever_the_server_count(self):
        images = [fake_image(hw_qemu_guest_agent="yes") for _ in range(3)]
        servers = [fake_server(image={"id": images[i % 3].id},
                               metadata={"HA_Enabled": "True"})
                   for i in range(120)]
        self.conn.compute.servers.return_value = iter(servers)
        self.conn.image.images.return_value = images
        args = self.check_parser(
            self.cmd, ["--prometheus-url", self.prometheus.url], [])
        columns, rows = self.cmd.take_action(args)
        self.assertEqual(constants.STATUS_COLUMNS, columns)
        rows = as_dicts(columns, rows)
        self.assertEqual(120, len(rows))
        self.assertEqual({"protected"}, {row["Verdict"] for row in rows})
        self.assertEqual(["deaths", "kernel hangs", "agent hangs"],
                         rows[0]["Protects Against"])
        self.assertEqual([], rows[0]["Reasons"])
        self.conn.compute.servers.assert_called_once()
        self.conn.image.images.assert_called_once()
        self.conn.instance_ha.hosts.assert_called_once()
        self.conn.instance_ha.notifications.assert_called_once()
        self.conn.block_storage.volumes.assert_not_called()
        self.conn.compute.find_server.assert_not_called()
        self.assertEqual(2, len(self.prometheus.requests))

    def server(self, image_attrs=None, **attrs):
        image = fake_image(name="debian", **dict(
            {"hw_qemu_guest_agent": "yes"}, **(image_attrs or {})))
        server = fake_server(image={"id": image.id},
                             **dict({"metadata": {"HA_Enabled": "True"}},
                                    **attrs))
        self.conn.compute.servers.return_value = iter([server])
        self.conn.image.images.return_value = [image]
        return server

    def test_without_prometheus_the_host_side_is_not_checked(self):
        """Never "protected" on a host whose monitor nobody checked."""
        self.server()
        row, = self.run_status(prom=False)
        self.assertEqual(("unknown", [prometheus.NOT_CHECKED]),
                         (row["Verdict"], row["Reasons"]))
        self.assertEqual([], self.prometheus.requests)

    def test_a_stopped_monitor_is_not_protected(self):
        self.server()
        now = time.time()
        self.prometheus.current = []
        self.prometheus.seen = [prometheus_api.sample(
            "", "cmp-1", 1796313600.0, now)]
        row, = self.run_status()
        self.assertEqual(("not protected", [
            "no monitor seen on cmp-1 since 2026-12-03T16:00:00Z"]),
            (row["Verdict"], row["Reasons"]))

    def test_prometheus_refusing_is_unknown_not_protected(self):
        self.server()
        self.prometheus.status = 401
        row, = self.run_status()
        self.assertEqual("unknown", row["Verdict"])
        self.assertTrue(row["Reasons"][0].startswith(
            "host side not checked: Prometheus at %s refused the query "
            "(HTTP 401)" % self.prometheus.url), row["Reasons"])

    def test_a_bad_prometheus_url_is_one_line_and_asks_nothing(self):
        args = self.check_parser(self.cmd, ["--prometheus-url", "prom:9090"],
                                 [])
        error = self.assertRaises(exceptions.CommandError,
                                  self.cmd.take_action, args)
        self.assertEqual("the Prometheus URL must start with http:// or "
                         "https://, not 'prom:9090'", str(error))
        self.conn.compute.servers.assert_not_called()

    def test_the_url_comes_from_clouds_yaml(self):
        self.server()
        self.app.client_manager._cli_options = mock.Mock(config={
            "instanceha_prometheus_url": self.prometheus.url})
        row, = self.run_status(prom=False)
        self.assertEqual("protected", row["Verdict"])
        self.assertEqual(2, len(self.prometheus.requests))

    def test_masakari_failure_is_unknown_not_protected(self):
        self.server()
        self.segment_list.side_effect = sdk_exc.HttpException(
            "boom", http_status=503)
        row, = self.run_status()
        self.assertEqual("unknown", row["Verdict"])
        self.assertTrue(row["Reasons"][0].startswith(
            "Masakari unreachable: HTTP 503"), row["Reasons"])

    def test_a_project_member_is_told_what_only_an_admin_sees(self):
        """Nova hides the host from a project member: Masakari and
        Prometheus are not asked, and the row says why it is unknown."""
        self.server(compute_host=None)
        row, = self.run_status()
        self.assertEqual(("unknown", [protection.ADMIN_ONLY], None),
                         (row["Verdict"], row["Reasons"], row["Host"]))
        self.segment_list.assert_not_called()
        self.conn.instance_ha.notifications.assert_not_called()
        self.assertEqual([], self.prometheus.requests)

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

    def test_without_2_98_an_image_changed_after_the_launch_is_unknown(self):
        """Nova copied the image's properties at the launch: an image
        changed since may have got hw_qemu_guest_agent=yes after it."""
        self.server({"updated_at": "2026-02-01T00:00:00Z"},
                    launched_at="2026-01-01T00:00:00.000000")
        row, = self.run_status("--long")
        self.assertEqual((None, "protected"),
                         (row["Agent Channel"], row["Verdict"]))
        self.assertEqual(["deaths", "kernel hangs"], row["Protects Against"])
        self.assertEqual(
            ["agent hangs not known: image debian changed after the server "
             "was launched (rebuild the server if it got "
             "hw_qemu_guest_agent since)"], row["Reasons"])

    def test_with_2_98_the_instance_s_own_properties_decide(self):
        """The regression of issue 20: any later edit of the image (such as
        os_shutdown_timeout) turned every server of it into "unknown"."""
        self.server({"updated_at": "2026-02-01T00:00:00Z"},
                    launched_at="2026-01-01T00:00:00.000000",
                    microversion="2.98")
        server = self.conn.compute.servers.return_value = iter([
            fake_server(image={"id": self.conn.image.images.return_value[
                0].id, "properties": {"hw_qemu_guest_agent": "yes"}},
                metadata={"HA_Enabled": "True"}, microversion="2.98",
                launched_at="2026-01-01T00:00:00.000000")])
        del server
        row, = self.run_status("--long")
        self.assertEqual((True, "protected", []),
                         (row["Agent Channel"], row["Verdict"],
                          row["Reasons"]))

    def test_with_2_98_a_server_built_without_the_property_says_so(self):
        image = fake_image(name="debian", hw_qemu_guest_agent="yes")
        self.conn.image.images.return_value = [image]
        self.conn.compute.servers.return_value = iter([fake_server(
            image={"id": image.id, "properties": {"os_type": "linux"}},
            metadata={"HA_Enabled": "True"}, microversion="2.100")])
        row, = self.run_status("--long")
        self.assertEqual((False, "protected"),
                         (row["Agent Channel"], row["Verdict"]))
        self.assertEqual(["built without hw_qemu_guest_agent=yes, which "
                          "image debian has now (rebuild the server for "
                          "agent hangs)"], row["Reasons"])

    def test_a_paused_server_is_not_protected_until_the_end(self):
        self.server(metadata={"HA_Enabled": "True",
                              "HA_Paused_Until": "2999-01-01T00:00:00Z"})
        row, = self.run_status("--long")
        self.assertEqual(("not protected", ["paused until "
                                            "2999-01-01T00:00:00Z"],
                          "2999-01-01T00:00:00Z"),
                         (row["Verdict"], row["Reasons"],
                          row["Paused Until"]))

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
        self.server()
        self.run_status("--since", "0.5")
        since = datetime.datetime.strptime(
            self.conn.instance_ha.notifications.call_args.kwargs[
                "generated_since"], "%Y-%m-%dT%H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc)
        age = datetime.datetime.now(datetime.timezone.utc) - since
        self.assertTrue(29 * 60 < age.total_seconds() < 31 * 60, age)


class TestMonitorList(CommandTest):
    def setUp(self):
        super().setUp()
        self.cmd = monitor_list.ListMonitors(self.app, None)
        segment = fakes.generate_fake_resource(
            sdk_segment.Segment, name="seg", is_enabled=True)
        mock.patch.object(sdk_segment.Segment, "list",
                          return_value=[segment]).start()
        self.addCleanup(mock.patch.stopall)
        self.conn.instance_ha.hosts.return_value = [
            fakes.generate_fake_resource(sdk_host.Host, name=name,
                                         on_maintenance=False,
                                         reserved=False)
            for name in ("cmp-1", "cmp-2")]
        self.conn.compute.services.return_value = [
            fakes.generate_fake_resource(
                sdk_service.Service, host=name, status="enabled",
                state="up", binary="nova-compute")
            for name in ("cmp-1", "cmp-2", "cmp-3")]
        self.conn.compute.servers.return_value = iter([
            fake_server(compute_host="cmp-2",
                        metadata={"HA_Enabled": "True"}),
            fake_server(compute_host="cmp-3")])
        self.prometheus = prometheus_api.PrometheusAPI()
        self.addCleanup(self.prometheus.close)
        for name in prometheus.SOURCES.values():
            self.useFixture(fixtures.EnvironmentVariable(name))

    def test_every_host_and_its_monitor_missing_ones_first(self):
        now = time.time()
        self.prometheus.current = prometheus_api.healthy("cmp-1", now)
        args = self.check_parser(
            self.cmd, ["--prometheus-url", self.prometheus.url], [])
        rows = {r["Host"]: r for r in as_dicts(*self.cmd.take_action(args))}
        self.assertEqual(["cmp-2", "cmp-3", "cmp-1"], list(rows))
        self.assertEqual(("never seen", 1,
                          ["1 HA server(s) and no monitor running"]),
                         (rows["cmp-2"]["Monitor"],
                          rows["cmp-2"]["HA Servers"],
                          rows["cmp-2"]["Attention"]))
        self.assertEqual(["no monitor running"], rows["cmp-3"]["Attention"])
        up = rows["cmp-1"]
        self.assertEqual(("up", "enforce", "connected", {"agent": 2}, 0, 0,
                          "seg", "enabled, up", []),
                         (up["Monitor"], up["Mode"], up["Libvirt"],
                          up["Guests"], up["Pending"], up["Overdue"],
                          up["Segment"], up["Nova"], up["Attention"]))

    def test_without_prometheus_it_says_where_to_give_it(self):
        args = self.check_parser(self.cmd, [], [])
        error = self.assertRaises(exceptions.CommandError,
                                  self.cmd.take_action, args)
        self.assertIn("--prometheus-url", str(error))
        self.conn.compute.services.assert_not_called()


class TestStatusFitsATerminal(_Status):
    """Issue 20: three realistic rows rendered 333 columns wide (a
    230-character Verdict).  The demo's servers, in the states the demo
    shows them, fit 160 columns as cliff renders the table."""

    def render(self, *argv, prom=True):
        import io

        from cliff.formatters import table

        argv = list(argv) + (["--prometheus-url", self.prometheus.url]
                             if prom else [])
        args = self.check_parser(self.cmd, argv, [])
        columns, rows = self.cmd.take_action(args)
        out = io.StringIO()
        formatter = table.TableFormatter()
        formatter.emit_list(columns, rows, out, argparse.Namespace(
            max_width=0, fit_width=False, print_empty=False))
        return out.getvalue().splitlines()

    def demo(self, metadata):
        agent = fake_image(name="cirros-agent", hw_qemu_guest_agent="yes")
        bare = fake_image(name="cirros")
        self.conn.image.images.return_value = [agent, bare]
        self.conn.compute.servers.return_value = iter([
            fake_server(id=str(uuid.uuid4()), name=name, image={
                "id": image.id, "properties": {
                    "hw_qemu_guest_agent": "yes"} if image is agent else {}},
                compute_host="lab-compute", metadata=metadata,
                microversion="2.98")
            for name, image in (("web-1", agent), ("db-1", agent),
                                ("app-1", bare))])
        self.conn.instance_ha.hosts.return_value = [
            fakes.generate_fake_resource(sdk_host.Host, name="lab-compute",
                                         on_maintenance=False,
                                         reserved=False)]

    def test_the_demo_s_servers_fit_160_columns(self):
        for metadata in ({}, {"HA_Enabled": "True"},
                         {"HA_Enabled": "True",
                          "HA_Paused_Until": "2999-12-31T23:59:59Z"}):
            for prom in (True, False):
                self.demo(metadata)
                self.prometheus.current = []  # the monitor stopped
                self.prometheus.seen = [prometheus_api.sample(
                    "", "lab-compute", time.time() - 3600)]
                lines = self.render(prom=prom)
                self.assertEqual(3, sum(  # every row is there
                    name in line for line in lines
                    for name in ("web-1", "db-1", "app-1")))
                self.assertLessEqual(max(len(line) for line in lines), 160,
                                     "\n".join(lines))
