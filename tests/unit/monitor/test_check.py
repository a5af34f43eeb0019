"""``instanceha-monitor check``'s look for masakari-monitors' own
instance monitors, on the real /proc with real processes."""
import subprocess
import sys

import pytest

from monitor import check
from tests import monitor_harness as harness


@pytest.fixture
def impostor(tmp_path):
    """A process as masakari-introspectiveinstancemonitor runs (a Python
    running the console script), or with its name as argv[0]."""
    made = []

    def start(how):
        if how == "script":
            script = tmp_path / "masakari-introspectiveinstancemonitor"
            script.write_text("import time\ntime.sleep(60)\n")
            argv = [sys.executable, str(script), "--config-file",
                    "/etc/masakarimonitors/masakarimonitors.conf"]
        else:
            argv = ["bash", "-c", "exec -a masakari-instancemonitor sleep "
                    "60"]
        child = subprocess.Popen(argv)
        made.append(child)
        return child

    yield start
    for child in made:
        child.kill()
        child.wait()


def wait_exec(child, name):
    import time

    for _ in range(200):
        if (child.pid, name) in check.overlapping_processes():
            return
        time.sleep(0.01)
    raise AssertionError("%s never showed in /proc" % name)


def conf_with(tmp_path, text=""):
    return harness.load_conf(harness.write_conf(tmp_path, text))


def test_nothing_running_is_ok(tmp_path):
    mine = [p for p, _ in check.overlapping_processes()]
    result = check._overlapping(conf_with(tmp_path))
    if mine:
        pytest.skip("a masakari instance monitor runs on this machine")
    assert result == check.Check(
        "masakari-monitors", True, "neither masakari-instancemonitor nor "
        "masakari-introspectiveinstancemonitor runs here")
    assert check.label(result) == "ok"


def test_a_running_instance_monitor_is_a_warning(tmp_path, impostor):
    script = impostor("script")
    program = impostor("program")
    wait_exec(script, "masakari-introspectiveinstancemonitor")
    wait_exec(program, "masakari-instancemonitor")

    enforce = check._overlapping(conf_with(tmp_path))
    shadow = check._overlapping(conf_with(tmp_path, "[recovery]\n"
                                          "mode = shadow\n"))

    assert enforce.ok and enforce.warn and check.label(enforce) == "WARN"
    assert "masakari-introspectiveinstancemonitor (pid %d)" % script.pid \
        in enforce.detail
    assert "masakari-instancemonitor (pid %d)" % program.pid in \
        enforce.detail
    assert enforce.detail.endswith("stop and disable them")
    assert shadow.detail.endswith("fine while this monitor runs in shadow "
                                  "mode; stop them before [recovery] mode "
                                  "= enforce")
    assert check.row(enforce)[1] == "WARN"


def test_other_processes_are_not_taken_for_one():
    child = subprocess.Popen([sys.executable, "-c", "import time; "
                              "time.sleep(60)", "masakari-instancemonitor"])
    try:
        assert child.pid not in [p for p, _ in
                                 check.overlapping_processes()]
    finally:
        child.kill()
        child.wait()
