"""etc/containers/instanceha-monitor.container: what podman's quadlet
generator makes of it, ``systemd-analyze verify`` on the generated
service, and the settings it must share with the native unit.

``systemd-analyze security`` is not asked: it rates the podman process,
whose confinement is the container's (the capabilities, read-only root and
no-new-privileges checked below), not systemd's.
"""
import shlex
import subprocess

import pytest

from tests.ops import debian_tools
from tests.ops.test_systemd_unit import UNIT as NATIVE_UNIT
from tests.ops.test_systemd_unit import settings
from tests.ops.test_systemd_unit import verify

QUADLET_FILE = debian_tools.REPO / "etc" / "containers" / \
    "instanceha-monitor.container"
CONFIG = "/etc/instanceha/instanceha-monitor.conf"
# What the service shares with the native unit, value for value.
SHARED = ("Restart", "RestartSec", "RestartPreventExitStatus", "WatchdogSec",
          "TimeoutStopSec", "StateDirectory", "StateDirectoryMode")


@pytest.fixture(scope="module")
def quadlet():
    try:
        return debian_tools.quadlet()
    except debian_tools.Unavailable as exc:
        pytest.skip("podman's quadlet unavailable, the quadlet unit is NOT "
                    "checked: %s" % exc)


@pytest.fixture(scope="module")
def analyze():
    try:
        return debian_tools.systemd_analyze()
    except debian_tools.Unavailable as exc:
        pytest.skip("systemd-analyze unavailable, the generated unit is NOT "
                    "verified: %s" % exc)


def generate(quadlet, tmp_path, text):
    """(exit status, the generated service or None, stderr): quadlet as
    systemd runs it, a generator writing into a directory."""
    source, out = tmp_path / "source", tmp_path / "generated"
    source.mkdir(exist_ok=True)
    out.mkdir(exist_ok=True)
    (source / QUADLET_FILE.name).write_text(text)
    result = subprocess.run(
        [quadlet, "-no-kmsg-log", str(out)], capture_output=True, text=True,
        timeout=60, env={"QUADLET_UNIT_DIRS": str(source)})
    service = out / "instanceha-monitor.service"
    return (result.returncode, service.read_text() if service.exists()
            else None, result.stderr)


@pytest.fixture(scope="module")
def generated(quadlet, tmp_path_factory):
    code, service, errors = generate(
        quadlet, tmp_path_factory.mktemp("quadlet"), QUADLET_FILE.read_text())
    assert code == 0 and service, errors
    return service


def service_settings(text):
    return {key: values for (section, key), values in settings(text).items()
            if section == "Service"}


def podman_run(service):
    """The generated ``podman run`` command line, as a list."""
    start, = service_settings(service)["ExecStart"]
    argv = shlex.split(start)
    assert argv[:2] == ["/usr/bin/podman", "run"], argv
    return argv


def test_generated_service_passes_systemd_analyze_verify(
        analyze, generated, tmp_path):
    # verify checks that ExecStart's binary exists: podman may not be
    # installed where the tests run
    stand_in = tmp_path / "podman"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    unit = tmp_path / "instanceha-monitor.service"
    unit.write_text(generated.replace("/usr/bin/podman", str(stand_in)))
    code, about, output = verify(analyze, unit)
    assert (code, about) == (0, []), output


@pytest.mark.parametrize("change", [
    ("Notify=true", "Notfy=true"),  # unknown key
    ("Network=host", "Netwrok=host"),
    ("[Container]", "[Containers]"),  # no container section
    ("Image=localhost/instanceha-monitor:latest\n", ""),  # no image
])
def test_quadlet_catches_a_broken_file(quadlet, tmp_path, change):
    """The generation above is not a formality: these mistakes fail it."""
    text = QUADLET_FILE.read_text()
    assert change[0] in text
    code, service, errors = generate(quadlet, tmp_path,
                                     text.replace(*change))
    assert code != 0 and service is None, errors


def test_restart_and_watchdog_as_the_native_unit(generated):
    container = service_settings(generated)
    native = service_settings(NATIVE_UNIT.read_text())
    for key in SHARED:
        assert container.get(key) == native[key], key
    # the monitor's own READY=1 and WATCHDOG=1, from inside the container
    assert container["Type"] == ["notify"]
    assert container["NotifyAccess"] == ["all"]
    argv = podman_run(generated)
    assert "--sdnotify=container" in argv
    watchdog_usec = int(native["WatchdogSec"][0]) * 1000000
    assert argv[argv.index("--env") + 1] == "WATCHDOG_USEC=%d" % watchdog_usec


def test_the_container_keeps_only_the_native_units_powers(generated):
    argv = podman_run(generated)
    native = service_settings(NATIVE_UNIT.read_text())
    assert {"--read-only", "--security-opt=no-new-privileges"} <= set(argv)
    assert argv[argv.index("--cap-drop") + 1] == "all"
    added = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--cap-add"]
    assert [cap.upper() for cap in added] == native["CapabilityBoundingSet"]
    assert "--privileged" not in argv


def test_host_network_name_and_the_mounts_the_monitor_needs(generated):
    argv = podman_run(generated)
    assert argv[argv.index("--network") + 1] == "host"
    assert "--uts=host" in argv  # [DEFAULT] hostname's default
    volumes = {argv[i + 1] for i, arg in enumerate(argv) if arg == "-v"}
    assert volumes == {
        "/run/libvirt:/run/libvirt:ro",  # the libvirt socket
        "/var/log/libvirt:/var/log/libvirt:ro",  # forensics: console logs
        "/var/lib/nova/instances:/var/lib/nova/instances:ro",  # Nova's
        "/etc/instanceha:/etc/instanceha:ro",
        "/var/lib/instanceha:/var/lib/instanceha:rw"}


def test_the_health_check_and_the_command(generated):
    argv = podman_run(generated)
    assert argv[argv.index("--health-cmd") + 1] == (
        "/opt/instanceha/bin/instanceha-monitor health --require-libvirt "
        "--config-file " + CONFIG)
    assert argv[-3:] == ["start", "--config-file", CONFIG]
    native = service_settings(NATIVE_UNIT.read_text())
    assert native["ExecStart"][0].endswith(" ".join(argv[-3:]))


@pytest.mark.parametrize("text, mirror", [
    ("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n"
     "\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n",
     "http://deb.debian.org/debian"),
    ("deb https://packages.example.com/apt stable main\n"
     "deb [arch=amd64] http://mirror.example.org/debian/ bookworm main\n",
     "http://mirror.example.org/debian"),
    ("deb http://deb.debian.org/debian-security bookworm-security main\n",
     None),
])
def test_the_hosts_debian_mirror_is_read_from_its_sources(text, mirror):
    """quadlet is fetched from the mirror the host already uses."""
    assert debian_tools.mirror_of(text) == mirror
