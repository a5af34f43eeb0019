"""The monitor's image built with podman (base image from Debian
packages, the project's wheel) and run on the lab host as the quadlet unit
runs it: a killed guest reaches Masakari from inside the container, the
image's health check fails while libvirt is lost, a configuration error
ends it with exit status 2 (what the quadlet unit does not restart).

Needs root and podman (installed from Debian when missing); the build is
skipped with the reason where podman cannot run a container.
"""
import json
import subprocess
import time
from pathlib import Path

import pytest

from tools.container import image as image_mod
from tools.container import monitor as container_mod
from tools.lab import faults
from tools.lab.monitor_process import notification_accepted
from tools.lab.monitor_process import domain_view
from tools.lab.monitor_process import outbox_entries
from tools.lab.stack import HOSTNAME
from tools.lab.stack import protected_guest
from tools.lab.stack import wait_finished

# A lean image: the monitor's virtualenv and Python on a minimal Debian.
MAX_IMAGE_MB = 400

_OK, _WHY = image_mod.can_build()


@pytest.fixture(scope="module")
def built():
    if not _OK:
        pytest.skip("the image is NOT built: %s" % _WHY)
    try:
        figures = image_mod.build(log=lambda line: print(line, flush=True))
    except RuntimeError as exc:  # podman cannot run a container here
        pytest.skip("the image is NOT built: %s" % exc)
    print("\nimage %s: %.0f MB, built in %.0f s (base image %.0f s)" % (
        image_mod.TAG, figures["size_bytes"] / 1e6, figures["seconds"],
        figures["base_seconds"]))
    return figures


@pytest.fixture
def container(lab, cloud, seed, built, tmp_path):
    running = container_mod.ContainerMonitor(
        tmp_path, cloud, HOSTNAME, image_mod.TAG, podman=built["podman"],
        console_dirs=[lab.workdir])
    yield running
    running.stop()
    assert running.proc.returncode == 0, running.log_text()[-2000:]


def test_the_image_is_lean(built):
    assert built["size_bytes"] / 1e6 < MAX_IMAGE_MB


def test_killed_guest_reaches_masakari_from_the_container(lab, seed,
                                                         container):
    dom = protected_guest(lab, seed)
    container.wait_for(
        lambda s: domain_view(s, dom).get("state") == "running")

    killed = time.monotonic()
    faults.kill_qemu(dom)
    state = container.wait_for(notification_accepted(dom))
    accepted = time.monotonic() - killed
    entry, = outbox_entries(state, dom)
    assert entry["event"] == "LIFECYCLE/STOPPED_FAILED"
    # forensics read the console log through the read-only mount
    kept = json.loads((Path(domain_view(state, dom)["last_forensics"]) /
                       "incident.json").read_text())
    assert kept["files"]["console"]["kept_bytes"] > 0
    assert wait_finished(seed, entry["notification_uuid"]) == "finished"
    print("\nin the container: kill -9 -> accepted by Masakari %.2f s"
          % accepted)


def test_health_check_fails_while_libvirt_is_lost(lab, container):
    code, said = container.health()
    assert code == 0 and said.startswith("healthy: libvirt connected"), said
    lab.libvirtd.stop()
    try:
        container.wait_for(lambda s: not s["libvirt"]["connected"],
                           timeout=30)
        code, said = container.health()
        assert code == 1, said
        assert "answered HTTP 503: libvirt not connected" in said, said
    finally:
        lab.libvirtd.start()
        lab.reconnect()
    container.wait_for(lambda s: s["libvirt"]["connected"], timeout=60)
    code, said = container.health()
    assert code == 0, said
    # the monitor itself ran on: a lost libvirt is not a reason to stop
    assert container.proc.poll() is None


def test_a_config_error_ends_the_container_with_status_2(built, tmp_path):
    """Exit status 2 is what the quadlet unit's RestartPreventExitStatus
    (and the native unit's) keys on: no restart loop."""
    conf = tmp_path / "bad.conf"
    conf.write_text("[introspectiveinstancemonitor]\n"
                    "guest_monitor_interval = 10\n")
    global_options, options = built["podman"]
    result = subprocess.run(
        ["podman", *global_options, "run", "--rm", *options,
         "--network", "host", "--read-only", "--volume",
         "%s:%s:ro" % (conf, container_mod.CONFIG), image_mod.TAG],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "guest_monitor_interval" in result.stderr
    assert "Traceback" not in result.stderr
