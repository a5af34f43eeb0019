"""The CLI tier: the real ``openstack`` command against a real local cloud.

Keystone, Glance and Masakari run for real (tools/cloud/peers.py); Nova and
Cinder are the project's emulator.  One cloud serves the whole session; each
test names its own servers, images and hosts so that tests do not interfere.

``nova_cloud`` is a second cloud, with real Nova 34 and Placement 16 on
MariaDB and RabbitMQ (fake virt driver), started once for the tests that
ask for it; where it cannot run (no root to install the Debian packages,
no apt) they are skipped and the reason printed.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.cloud import peers
from tools.cloud import real_nova
from tools.cloud import seed as seed_mod

OPENSTACK = str(Path(sys.executable).with_name("openstack"))


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory):
    cloud = peers.LocalCloud(tmp_path_factory.mktemp("cloud"))
    cloud.start()
    yield cloud
    cloud.stop()


class Cli:
    """Runs ``openstack`` as an operator would, with a clouds.yaml."""

    def __init__(self, cloud):
        self.cloud = cloud

    def run(self, *args, os_cloud="admin", check=True):
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(
            self.cloud.clouds_yaml))
        for key in [k for k in env if k.startswith("OS_") and
                    k != "OS_CLIENT_CONFIG_FILE"]:
            del env[key]
        result = subprocess.run(
            [OPENSTACK, "--os-cloud", os_cloud, *args], env=env,
            capture_output=True, text=True, timeout=120)
        if check and result.returncode:
            raise AssertionError("openstack %s failed (%s):\n%s%s" % (
                " ".join(args), result.returncode, result.stdout,
                result.stderr))
        return result

    def json(self, *args, **kwargs):
        return json.loads(self.run(*args, "-f", "json", **kwargs).stdout)


@pytest.fixture(scope="session")
def cli(local_cloud):
    return Cli(local_cloud)


@pytest.fixture(scope="session")
def seed(local_cloud):
    return seed_mod.Seeder(local_cloud)


_NOVA_SKIPPED = []  # why, once the fixture has found it out


@pytest.fixture(scope="session")
def nova_cloud(tmp_path_factory):
    """The local cloud with real Nova (fake virt driver)."""
    ok, why = real_nova.can_run()
    if not ok:
        _NOVA_SKIPPED.append(why)
        pytest.skip("real Nova: " + why)
    cloud = peers.LocalCloud(tmp_path_factory.mktemp("nova-cloud"),
                             nova="real", compute_driver="fake")
    cloud.start()
    yield cloud
    cloud.stop()


@pytest.fixture(scope="session")
def nova_cli(nova_cloud):
    return Cli(nova_cloud)


@pytest.fixture(scope="session")
def nova_seed(nova_cloud):
    return seed_mod.Seeder(nova_cloud)


def pytest_terminal_summary(terminalreporter):
    """Said at the end of every run, -q or not (output of fixtures and
    conftest imports is captured)."""
    for why in _NOVA_SKIPPED:
        terminalreporter.write_line(
            "*** REAL NOVA TESTS SKIPPED: %s ***" % why, red=True, bold=True)
