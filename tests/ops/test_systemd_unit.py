"""etc/systemd/instanceha-monitor.service: what systemd itself says of it
(``systemd-analyze verify`` and ``security``), and the settings the
monitor relies on."""
import re
import stat
import subprocess

import pytest

from tests.ops import debian_tools

UNIT = debian_tools.REPO / "etc" / "systemd" / "instanceha-monitor.service"
# Where the documented install puts the console script (a virtualenv in
# /opt/instanceha); the unit is shipped with this path.
INSTALLED = "/opt/instanceha/bin/instanceha-monitor"
# systemd-analyze security's overall exposure, times ten (2.1 -> 21): the
# hardened unit is at about 2; without its hardening block it is above 9.
EXPOSURE_THRESHOLD = 30


@pytest.fixture(scope="module")
def analyze():
    try:
        return debian_tools.systemd_analyze()
    except debian_tools.Unavailable as exc:
        pytest.skip("systemd-analyze unavailable, the unit is NOT verified: "
                    "%s" % exc)


def settings(text):
    """{(section, key): [values]} of a unit file."""
    found, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault((section, key), []).append(value)
    return found


def installable(tmp_path, text):
    """The unit with ExecStart pointed at a stand-in executable:
    ``verify`` checks that the binary exists."""
    assert INSTALLED in text
    binary = tmp_path / "bin" / "instanceha-monitor"
    binary.parent.mkdir(exist_ok=True)
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace(INSTALLED, str(binary)))
    return unit


def verify(analyze, unit):
    """(exit status, lines about this unit, whole output).

    verify exits 0 on an unknown key or an unparsable value (it only
    warns and ignores the line), so every line naming the unit counts.
    """
    result = subprocess.run(
        [analyze, "verify", "--man=no", "--recursive-errors=no", str(unit)],
        capture_output=True, text=True, timeout=120, cwd=unit.parent)
    output = result.stdout + result.stderr
    about = [line for line in output.splitlines() if unit.name in line]
    return result.returncode, about, output


def test_shipped_unit_passes_systemd_analyze_verify(analyze, tmp_path):
    code, about, output = verify(analyze, installable(tmp_path,
                                                      UNIT.read_text()))
    assert (code, about) == (0, []), output


@pytest.mark.parametrize("change", [
    ("UMask=0077", "UMaks=0077"),  # unknown key: only a warning
    ("WatchdogSec=30", "WatchdogSec=thirty"),  # ignored value
    ("ProtectSystem=strict", "ProtectSystem=stric"),
    ("Type=notify", "Type=notfiy"),
])
def test_verify_catches_a_broken_unit(analyze, tmp_path, change):
    """The check above is not a formality: these mistakes fail it."""
    broken = UNIT.read_text().replace(*change)
    code, about, output = verify(analyze, installable(tmp_path, broken))
    assert code or about, output


def test_verify_catches_a_missing_binary(analyze, tmp_path):
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED,
                                             str(tmp_path / "nowhere")))
    code, about, output = verify(analyze, unit)
    assert code and about, output


def exposure(analyze, unit):
    result = subprocess.run(
        [analyze, "security", "--no-pager", "--offline=yes",
         "--threshold=%d" % EXPOSURE_THRESHOLD, str(unit)],
        capture_output=True, text=True, timeout=120, cwd=unit.parent)
    level = re.search(r"Overall exposure level for \S+: (\S+ \S+)",
                      result.stdout)
    return result.returncode, level and level.group(1), result.stdout


def test_hardening_keeps_exposure_low(analyze, tmp_path):
    code, level, output = exposure(analyze, installable(tmp_path,
                                                        UNIT.read_text()))
    print("systemd-analyze security: exposure %s" % level)
    assert level and code == 0, output


def test_exposure_check_fails_without_the_hardening(analyze, tmp_path):
    text = UNIT.read_text()
    start = text.index("# Hardening.")
    end = text.index("[Install]")
    code, level, output = exposure(analyze, installable(
        tmp_path, text[:start] + text[end:]))
    assert level and code != 0, output


def test_unit_settings():
    unit = settings(UNIT.read_text())
    service = {key: values for (section, key), values in unit.items()
               if section == "Service"}
    for key, value in {
            "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30",
            "RestartPreventExitStatus": "2", "Restart": "always",
            "ExecReload": "/bin/kill -HUP $MAINPID",
            "StateDirectory": "instanceha", "StateDirectoryMode": "0700",
            "UMask": "0077", "ProtectSystem": "strict", "ProtectHome": "yes",
            "PrivateTmp": "yes", "NoNewPrivileges": "yes",
            "ProtectKernelTunables": "yes", "ProtectControlGroups": "yes",
            "RestrictSUIDSGID": "yes", "LockPersonality": "yes"}.items():
        assert service.get(key) == [value], key
    # Root: the libvirt socket is root-only.
    assert "User" not in service and "DynamicUser" not in service
    assert service["ExecStart"] == [
        INSTALLED + " start --config-file "
        "/etc/instanceha/instanceha-monitor.conf"]
    after = " ".join(unit[("Unit", "After")]).split()
    assert {"libvirtd.service", "virtqemud.service"} <= set(after)
    # Ordering only: virtqemud.service has Conflicts=libvirtd.service, so
    # wanting both would make systemd stop whichever runs.
    wants = " ".join(unit.get(("Unit", "Wants"), [])).split()
    assert not {"libvirtd.service", "virtqemud.service"} & set(wants)
