"""``openstack instanceha monitor show | set | check`` through the real
``openstack`` command."""
import json
import subprocess

from tests import monitor_harness as harness
from tests.functional.test_monitor_masakari import MONITOR
from tests.functional.test_monitor_masakari import monitor_conf
from tests.functional.test_monitor_masakari import wait

NOTES = "# site notes: keep me\n"


def test_show_tells_values_and_where_they_come_from(cli, tmp_path,
                                                    local_cloud, seed):
    conf = monitor_conf(tmp_path, local_cloud, "compute-show")
    rows = cli.json("instanceha", "monitor", "show", "--config-file",
                    str(conf))
    table = {(r["Section"], r["Option"]): r for r in rows}
    assert table[("DEFAULT", "hostname")]["Value"] == "compute-show"
    assert table[("DEFAULT", "hostname")]["Source"] == str(conf)
    interval = table[("introspectiveinstancemonitor",
                      "guest_monitoring_interval")]
    assert (interval["Value"], interval["Source"]) == (10, "default")
    assert table[("live", "monitor")]["Value"].startswith("not answering")
    # the settings it authenticates with, and never the password
    auth = {option: table[("api", option)]["Value"] for option in (
        "auth_type", "auth_url", "username", "project_name",
        "user_domain_name", "project_domain_name", "region", "password")}
    assert auth == {
        "auth_type": "password", "auth_url": local_cloud.keystone_url,
        "username": "admin", "project_name": "admin",
        "user_domain_name": "Default", "project_domain_name": "Default",
        "region": "RegionOne", "password": "***"}
    assert "secret" not in json.dumps(rows)  # the password


def test_show_includes_the_running_monitors_state(cli, tmp_path,
                                                  local_cloud, seed):
    conf = monitor_conf(tmp_path, local_cloud, "compute-live")
    monitor = harness.RunningMonitor(harness.load_conf(conf))
    try:
        rows = cli.json("instanceha", "monitor", "show", "--config-file",
                        str(conf), "--control-socket", str(
                            monitor.monitor.store.path / "control.sock"))
    finally:
        monitor.stop()
    live = {r["Option"]: r["Value"] for r in rows if r["Section"] == "live"}
    assert live["monitor"].startswith("running, pid ")
    assert live["libvirt"] == "connected"
    assert live["outbox pending"] == 0
    assert (live["mode"], live["paused until"], live["would recover"]) == (
        "enforce", None, 0)


def test_set_edits_in_place_and_refuses_nonsense(cli, tmp_path,
                                                 local_cloud, seed):
    conf = monitor_conf(tmp_path, local_cloud, "compute-set")
    conf.write_text(NOTES + conf.read_text())

    out = cli.run("instanceha", "monitor", "set", "--config-file",
                  str(conf), "--interval", "5", "--threshold", "4").stdout

    assert "No monitor answers for this config: the new values apply " \
        "when it starts." in out
    text = conf.read_text()
    assert text.startswith(NOTES)
    assert "guest_monitoring_interval = 5" in text
    assert "guest_monitoring_failure_threshold = 4" in text
    bad = cli.run("instanceha", "monitor", "set", "--config-file",
                  str(conf), "--timeout", "9", check=False)
    assert bad.returncode == 1
    assert "the timeout (9 s) must be shorter than the interval (5 s)" \
        in bad.stderr
    assert conf.read_text() == text
    zero = cli.run("instanceha", "monitor", "set", "--config-file",
                   str(conf), "--threshold", "0", check=False)
    assert "--threshold must be at least 1" in zero.stderr


def test_check_passes_for_a_registered_host_and_fails_otherwise(
        cli, tmp_path, local_cloud, seed):
    host = seed.unique("cmp")
    seed.segment_with_host(host)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    good = monitor_conf(tmp_path / "a", local_cloud, host)
    bad = monitor_conf(tmp_path / "b", local_cloud, "nowhere")

    ok = cli.json("instanceha", "monitor", "check", "--config-file",
                  str(good))
    fail = cli.run("instanceha", "monitor", "check", "--config-file",
                   str(bad), "-f", "json", check=False)

    assert [row["Check"] for row in ok] == ["config", "libvirt", "state",
                                            "masakari-monitors", "masakari",
                                            "nova servers"]
    assert {row["Result"] for row in ok} == {"ok"}
    assert ok[-2]["Detail"].startswith("host %r in segment" % host)
    assert ok[-1]["Detail"].endswith("in Nova; their task states excuse "
                                     "hang verdicts")
    assert fail.returncode == 1
    failed = {row["Check"]: row for row in json.loads(fail.stdout)}
    assert failed["masakari"]["Result"] == "FAIL"
    assert failed["masakari"]["Detail"].startswith(
        "host 'nowhere' is not registered")
    assert "1 of 6 checks failed: masakari" in fail.stderr


def test_help_lists_the_monitor_commands(cli):
    out = cli.run("help", "instanceha").stdout
    for name in ("monitor list", "monitor show", "monitor set",
                 "monitor check", "monitor start"):
        assert "instanceha " + name in out
    missing = cli.run("instanceha", "monitor", "show", "--config-file",
                      "/nonexistent.conf", check=False)
    assert missing.returncode == 1
    assert missing.stdout == ""
    [line] = missing.stderr.splitlines()
    assert line.startswith("no config file at /nonexistent.conf: create it "
                           "from ")
    assert line.endswith("or give --config-file")


def test_set_reloads_the_running_monitor(cli, tmp_path, local_cloud, seed):
    conf = monitor_conf(tmp_path, local_cloud, "compute-reload")
    log = open(tmp_path / "monitor.log", "w")
    running = subprocess.Popen([MONITOR, "start", "--config-file",
                                str(conf)], stdout=log, stderr=log)
    try:
        wait(lambda: (tmp_path / "state" / "status.url").exists())
        out = cli.run("instanceha", "monitor", "set", "--config-file",
                      str(conf), "--interval", "6", "--timeout", "1",
                      "--threshold", "4", "--mode", "shadow").stdout
        status = json.loads(subprocess.run(
            [MONITOR, "status", "--json", "--config-file", str(conf)],
            capture_output=True, text=True, check=True).stdout)
    finally:
        running.terminate()
        running.wait(20)
        log.close()

    assert "The running monitor (pid %d) reloaded it." % running.pid in out
    assert {k: status["settings"][k] for k in ("interval", "timeout",
                                               "threshold")} == {
        "interval": 6, "timeout": 1, "threshold": 4}
    assert status["mode"] == status["settings"]["mode"] == "shadow"
    assert "mode = shadow" in conf.read_text()
    assert running.returncode == 0
