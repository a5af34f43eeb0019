"""``openstack instanceha monitor show`` and ``set`` on real files."""
import os
import stat
from pathlib import Path
from unittest import mock

import pytest
from osc_lib import exceptions
from osc_lib.test import base

from osc_instanceha import config_file
from osc_instanceha.v1 import monitor

PASSWORD = "s3cret-pw-do-not-show"
CONFIG = """\
# site notes: keep me
[DEFAULT]
hostname = compute-1
state_path = {state}

[status]
port = 0

[api]
auth_type = {auth_type}
auth_url = http://keystone.example:5000/v3
{credentials}
region = RegionTwo
endpoint_override = http://masakari.example:15868/v1

[introspectiveinstancemonitor]
guest_monitoring_interval = 10
"""
PASSWORD_AUTH = """\
username = instanceha
password = %s
project_name = service
user_domain_name = Default
project_domain_name = Default""" % PASSWORD
APP_CREDENTIAL = """\
application_credential_id = 0123abcd
application_credential_secret = %s""" % PASSWORD


def write_config(directory, auth_type="password", credentials=PASSWORD_AUTH,
                 name="instanceha-monitor.conf"):
    path = Path(directory) / name
    path.write_text(CONFIG.format(state=Path(directory) / "state",
                                  auth_type=auth_type,
                                  credentials=credentials))
    return path


class Base(base.TestCommand):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp = tmp_path

    def run_command(self, cls, argv):
        cmd = cls(self.app, None)
        parsed = self.check_parser(cmd, argv, [])
        return cmd.take_action(parsed)


class TestShow(Base):
    def rows(self, path):
        _, rows = self.run_command(monitor.ShowMonitor,
                                   ["--config-file", str(path)])
        return {(section, option): (value, source)
                for section, option, value, source in rows}

    def test_lists_the_auth_settings_it_would_use(self):
        path = write_config(self.tmp)
        rows = self.rows(path)
        for option, value in {
                "auth_type": "password",
                "auth_url": "http://keystone.example:5000/v3",
                "username": "instanceha", "project_name": "service",
                "user_domain_name": "Default",
                "project_domain_name": "Default", "region": "RegionTwo",
                "endpoint_override": "http://masakari.example:15868/v1",
                "password": "***"}.items():
            self.assertEqual((value, str(path)), rows[("api", option)],
                             option)
        self.assertEqual((None, "default"), rows[("api", "user_id")])

    def test_never_shows_a_secret(self):
        for auth_type, credentials, secret in (
                ("password", PASSWORD_AUTH, "password"),
                ("v3applicationcredential", APP_CREDENTIAL,
                 "application_credential_secret")):
            directory = self.tmp / auth_type
            directory.mkdir()
            rows = self.rows(write_config(directory, auth_type,
                                          credentials))
            self.assertEqual("***", rows[("api", secret)][0])
            self.assertNotIn(PASSWORD, repr(rows))

    def test_a_missing_config_file_is_an_error_with_what_to_do(self):
        path = self.tmp / "absent.conf"
        for argv in (["--config-file", str(path)], []):
            with mock.patch.object(monitor, "DEFAULT_CONFIG", str(path)):
                error = self.assertRaises(
                    exceptions.CommandError, self.run_command,
                    monitor.ShowMonitor, argv)
            message = str(error)
            self.assertTrue(message.startswith(
                "no config file at %s: create it from " % path), message)
            self.assertIn("or give --config-file", message)
            self.assertNotIn("\n", message)


class TestSet(Base):
    """The defects fixed: ``set`` wrote ``<file>.new`` with the caller's
    umask and renamed it over the config, so a 0600 root-owned file holding
    [api] password became 0644, and a symlinked config became a plain
    file."""

    def set(self, path, *argv):
        return self.run_command(monitor.SetMonitor,
                                ["--config-file", str(path), *argv])

    def leftovers(self, directory):
        return [p.name for p in Path(directory).iterdir()
                if p.name.endswith((".tmp", ".new"))]

    def test_mode_0600_stays_0600_under_umask_022(self):
        path = write_config(self.tmp)
        path.chmod(0o600)
        old = os.umask(0o022)
        try:
            self.set(path, "--interval", "5")
        finally:
            os.umask(old)
        self.assertEqual(0o600, stat.S_IMODE(path.stat().st_mode))
        self.assertIn("guest_monitoring_interval = 5", path.read_text())
        self.assertTrue(path.read_text().startswith("# site notes"))
        self.assertEqual([], self.leftovers(self.tmp))

    def test_a_symlinked_config_stays_a_symlink_to_the_edited_file(self):
        real_dir = self.tmp / "managed"
        real_dir.mkdir()
        real = write_config(real_dir)
        real.chmod(0o640)
        link = self.tmp / "instanceha-monitor.conf"
        link.symlink_to(real)
        self.set(link, "--threshold", "4")
        self.assertTrue(link.is_symlink())
        self.assertEqual(str(real), os.readlink(link))
        self.assertIn("guest_monitoring_failure_threshold = 4",
                      real.read_text())
        self.assertEqual(0o640, stat.S_IMODE(real.stat().st_mode))
        self.assertEqual([], self.leftovers(self.tmp))
        self.assertEqual([], self.leftovers(real_dir))

    def test_owner_and_group_are_kept(self):
        if os.geteuid() != 0:
            pytest.skip("keeping another owner needs root to set one up "
                        "(chown); run the unit tests as root to check it")
        path = write_config(self.tmp)
        os.chown(path, 4242, 4343)
        path.chmod(0o600)
        self.set(path, "--recovery-budget", "5")
        after = path.stat()
        self.assertEqual((4242, 4343, 0o600),
                         (after.st_uid, after.st_gid,
                          stat.S_IMODE(after.st_mode)))
        self.assertIn("recovery_budget = 5", path.read_text())

    def test_a_missing_config_file_is_not_created(self):
        path = self.tmp / "absent.conf"
        error = self.assertRaises(exceptions.CommandError, self.set, path,
                                  "--interval", "5")
        self.assertIn("no config file at %s" % path, str(error))
        self.assertFalse(path.exists())


def test_replace_checks_a_private_candidate_and_keeps_the_target(tmp_path):
    target = tmp_path / "monitor.conf"
    target.write_text("old\n")
    target.chmod(0o644)
    seen = []

    def refuse(candidate):
        seen.append((Path(candidate).read_text(),
                     stat.S_IMODE(os.stat(candidate).st_mode)))
        raise ValueError("refused")

    with pytest.raises(ValueError):
        config_file.replace(target, "new\n", check=refuse)
    # the candidate was complete and private while it was checked
    assert seen == [("new\n", 0o600)]
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["monitor.conf"]


def test_replace_follows_a_chain_of_symlinks(tmp_path):
    real = tmp_path / "real.conf"
    real.write_text("old\n")
    real.chmod(0o600)
    (tmp_path / "middle.conf").symlink_to(real)
    (tmp_path / "top.conf").symlink_to(tmp_path / "middle.conf")
    assert config_file.replace(tmp_path / "top.conf", "new\n") == real
    assert (tmp_path / "top.conf").is_symlink()
    assert (tmp_path / "middle.conf").is_symlink()
    assert real.read_text() == "new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


class TestSetMode(Base):
    def test_mode_goes_to_recovery_and_a_bad_one_is_refused(self):
        path = write_config(self.tmp)
        cmd = monitor.SetMonitor(self.app, None)
        parsed = self.check_parser(cmd, ["--config-file", str(path),
                                         "--mode", "shadow"], [])
        cmd.take_action(parsed)
        text = path.read_text()
        assert "[recovery]\nmode = shadow" in text
        assert text.startswith("# site notes: keep me")
        self.assertRaises(base.ParserException, self.check_parser, cmd,
                          ["--config-file", str(path), "--mode", "dry"], [])
