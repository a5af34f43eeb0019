"""Moving over from masakari-monitors: this monitor starts on the
``masakarimonitors.conf`` that masakari-monitors 22.0.0's own config
generator writes (installed from PyPI in a virtualenv of its own, as the
bench's peer), unchanged; what belongs to the other masakari monitors is
ignored with one log line each."""
import re
import subprocess
import sys
import time
from pathlib import Path

from monitor import control_client
from monitor.conf import masakari_monitors
from monitor.conf import validate
from tools.cloud import masakari_monitors as peer

MONITOR = str(Path(sys.executable).with_name("instanceha-monitor"))


def sample_entries(path):
    """section -> option names of a generated sample (all commented)."""
    entries, section = {}, None
    for line in Path(path).read_text().splitlines():
        found = re.match(r"^\[(.+)\]$", line)
        if found:
            section = entries.setdefault(found.group(1), set())
            continue
        found = re.match(r"^#(\w+) = ", line)
        if found and section is not None:
            section.add(found.group(1))
    return entries


def test_the_table_of_the_other_monitors_is_masakari_monitors_own(tmp_path):
    sample = peer.generate_sample(tmp_path / "masakarimonitors.conf")
    known = validate.known_options("password")
    theirs = set()
    for section, options in sample_entries(sample).items():
        if section in masakari_monitors.SECTIONS:
            theirs.add(section)
            continue
        assert section in known, "a section neither ours nor in the table"
        for option in options - known[section]:
            assert option in masakari_monitors.OPTIONS.get(section, {}), \
                "[%s] %s: neither ours nor in the table" % (section, option)
            theirs.add((section, option))
    table = set(masakari_monitors.SECTIONS) | {
        (section, option) for section, options in
        masakari_monitors.OPTIONS.items() for option in options}
    assert table == theirs  # nothing in the table masakari-monitors lacks


def test_the_monitor_starts_on_the_generated_file_unchanged(tmp_path):
    sample = peer.generate_sample(tmp_path / "masakarimonitors.conf")
    before = sample.read_text()
    local = tmp_path / "local.conf"  # later files win: this host's own
    local.write_text(
        "[DEFAULT]\nhostname = compute-mm\nstate_path = %s\n[libvirt]\n"
        "connection_uri = test:///default\n[status]\nport = 0\n"
        "[recovery]\nbackend = libvirt\nmode = shadow\n" % (
            tmp_path / "state"))
    log = tmp_path / "monitor.log"
    with open(log, "w") as out:
        child = subprocess.Popen([MONITOR, "start", "--config-file",
                                  str(sample), "--config-file", str(local)],
                                 stdout=out, stderr=subprocess.STDOUT)
        try:
            url = tmp_path / "state" / "status.url"
            deadline = time.monotonic() + 30
            while not url.exists() and child.poll() is None and \
                    time.monotonic() < deadline:
                time.sleep(0.1)
            assert url.exists(), log.read_text()
            # the status document is on the control socket (root)
            status = control_client.get_status(
                tmp_path / "state" / control_client.SOCKET)
        finally:
            child.terminate()
            child.wait(20)
    text = log.read_text()
    assert status["mode"] == "shadow" and status["hostname"] == "compute-mm"
    for section, who in masakari_monitors.SECTIONS.items():
        assert text.count("%s: [%s] belongs to %s: ignored" % (
            sample, section, who)) == 1
    assert "Traceback" not in text and child.returncode == 0
    assert sample.read_text() == before
