"""``openstack instanceha pause`` and ``resume`` with osc-lib's
TestCommand and openstacksdk's fakes: the end time in the server's
metadata, bad lengths refused before anything changes."""
from openstack import exceptions as sdk_exc
from osc_lib import exceptions
from osc_lib.test import base

from monitor import pause as pause_mod
from osc_instanceha.v1 import pause
from tests.unit.test_commands import CommandTest
from tests.unit.test_commands import fake_server

NOW = 1796306400.0  # 2026-12-03T14:00:00Z


class TestPause(CommandTest):
    def setUp(self):
        super().setUp()
        self.cmd = pause.PauseServerHA(self.app, None)
        self.cmd.clock = lambda: NOW
        self.servers = [fake_server(), fake_server()]
        self.conn.compute.find_server.side_effect = self.servers

    def test_sets_the_end_time_in_utc_on_every_server(self):
        args = self.check_parser(
            self.cmd, ["a", "b", "--for", "2h"],
            [("servers", ["a", "b"]), ("length", "2h")])
        _, rows = self.cmd.take_action(args)
        self.assertEqual([(s.id, s.name, "2026-12-03T16:00:00Z", "ok")
                          for s in self.servers], rows)
        for server in self.servers:
            self.conn.compute.set_server_metadata.assert_any_call(
                server, HA_Paused_Until="2026-12-03T16:00:00Z")
        self.assertEqual(pause_mod.parse_until(rows[0][2]), NOW + 7200)

    def test_bad_lengths_change_nothing(self):
        for length, why in (("0", "is zero"), ("-2h", "is negative"),
                            ("soon", "is not understood"),
                            ("8d", "longer than the maximum of 7d")):
            args = self.check_parser(self.cmd, ["a", "--for=" + length], [])
            with self.assertRaises(exceptions.CommandError) as refused:
                self.cmd.take_action(args)
            self.assertIn(why, str(refused.exception))
        self.conn.compute.find_server.assert_not_called()
        self.conn.compute.set_server_metadata.assert_not_called()

    def test_for_is_required(self):
        self.assertRaises(base.ParserException, self.check_parser, self.cmd,
                          ["a"], [])

    def test_dry_run_changes_nothing(self):
        args = self.check_parser(self.cmd, ["a", "--for", "30m",
                                            "--dry-run"], [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual(("2026-12-03T14:30:00Z",
                          "dry run: nothing changed"), rows[0][2:])
        self.conn.compute.set_server_metadata.assert_not_called()

    def test_a_failure_is_its_row_and_the_command_fails(self):
        self.conn.compute.set_server_metadata.side_effect = [
            None, sdk_exc.HttpException("Forbidden", http_status=403)]
        args = self.check_parser(self.cmd, ["a", "b", "--for", "1h"], [])
        with self.assertRaises(exceptions.CommandError) as failed:
            self.cmd.run(args)
        self.assertEqual("1 of 2 servers failed", str(failed.exception))


class TestResume(CommandTest):
    def setUp(self):
        super().setUp()
        self.cmd = pause.ResumeServerHA(self.app, None)

    def test_removes_the_key_of_a_paused_server_only(self):
        paused = fake_server(metadata={"HA_Paused_Until":
                                       "2026-12-03T16:00:00Z",
                                       "HA_Enabled": "True"})
        running = fake_server(metadata={"HA_Enabled": "True"})
        self.conn.compute.find_server.side_effect = [paused, running]
        args = self.check_parser(self.cmd, ["a", "b"], [])
        _, rows = self.cmd.take_action(args)
        self.assertEqual([(paused.id, paused.name, "-", "resumed"),
                          (running.id, running.name, "-", "not paused")],
                         rows)
        self.conn.compute.delete_server_metadata.assert_called_once_with(
            paused, ["HA_Paused_Until"])
