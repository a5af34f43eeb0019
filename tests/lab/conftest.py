"""The lab tier: real libvirtd + QEMU guests running the real
qemu-guest-agent, the host monitor as its own process, real Masakari (API +
engine) recovering through the Nova emulator acting on the real domains.

Needs root on a Debian-like host; otherwise every test is skipped with the
reason, printed in the summary (pytest -rs).
"""
import sys

import pytest

from tools.cloud import peers
from tools.cloud import seed as seed_mod
from tools.lab import host
from tools.lab import lab as lab_mod
from tools.lab import monitor_process
from tools.lab import stack

HOSTNAME = stack.HOSTNAME

_OK, _WHY = host.can_run()
if not _OK:
    sys.stderr.write("\n*** LAB TIER SKIPPED: %s ***\n" % _WHY)


def pytest_collection_modifyitems(items):
    if not _OK:
        for item in items:
            item.add_marker(pytest.mark.skip(reason="lab: " + _WHY))


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    lab = lab_mod.Lab(tmp_path_factory.mktemp("lab"))
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture(scope="session")
def cloud(lab, tmp_path_factory):
    cloud = peers.LocalCloud(tmp_path_factory.mktemp("cloud"),
                             libvirt_uri=host.URI)
    cloud.start()
    yield cloud
    cloud.stop()


@pytest.fixture(scope="session")
def seed(cloud):
    seed = seed_mod.Seeder(cloud)
    seed.segment_with_host(HOSTNAME)
    return seed


@pytest.fixture
def monitor(cloud, seed, tmp_path):
    running = monitor_process.MonitorProcess(tmp_path, cloud, HOSTNAME)
    yield running
    running.stop()
    assert running.proc.returncode == 0


@pytest.fixture
def fast_monitor(cloud, seed, tmp_path):
    """Heartbeats every 2 s, 1 s timeout, 3 failures: a hang in ~7 s."""
    running = monitor_process.MonitorProcess(tmp_path, cloud, HOSTNAME,
                                             extra=monitor_process.FAST_HEARTBEATS)
    yield running
    running.stop()
    assert running.proc.returncode == 0
