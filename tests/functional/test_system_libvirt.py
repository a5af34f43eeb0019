"""The install path without a compiler: a virtualenv made with
--system-site-packages on Debian's python3-libvirt, the monitor's runtime
from the ``system-libvirt`` extra pinned by etc/host-constraints.txt. The
monitor then imports libvirt from the distribution and works with it."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tools import debian

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
PACKAGES = ["python3-libvirt", "python3-venv"]


@pytest.fixture(scope="module")
def system_venv(tmp_path_factory):
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("needs root and apt-get to install python3-libvirt")
    debian.install(PACKAGES)
    venv = tmp_path_factory.mktemp("system-libvirt") / "venv"
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages",
                    str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "-q",
           "--disable-pip-version-check"]
    env = dict(os.environ, PIP_CONSTRAINT=str(
        REPO / "etc" / "host-constraints.txt"))
    subprocess.run(pip + ["%s[system-libvirt]" % REPO], check=True,
                   env=env, timeout=600)
    return venv


def test_the_monitor_runs_on_the_distributions_libvirt(system_venv,
                                                         tmp_path):
    python = str(system_venv / "bin" / "python")
    where = subprocess.run(
        [python, "-c", "import libvirt, monitor.libvirt_watch; "
         "print(libvirt.__file__)"], capture_output=True, text=True,
        check=True).stdout.strip()
    assert where.startswith("/usr/lib/python3/dist-packages/"), where
    assert not list(system_venv.glob("lib/python3*/site-packages/libvirt*"))
    conf = tmp_path / "instanceha-monitor.conf"
    conf.write_text("[DEFAULT]\nhostname = h\nstate_path = %s\n[libvirt]\n"
                    "connection_uri = test:///default\n[recovery]\n"
                    "backend = libvirt\n" % (tmp_path / "state"))
    check = subprocess.run([str(system_venv / "bin" / "instanceha-monitor"),
                            "check", "--config-file", str(conf)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ok   libvirt   test:///default: " in check.stdout
