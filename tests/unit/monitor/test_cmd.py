"""instanceha-monitor as an operator meets it: complete help, a version,
and one line (cause, what to do) for every failure; a traceback only with
--debug."""
import json
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from monitor import cmd
from monitor import store

MONITOR = [sys.executable, "-m", "monitor.cmd"]


def run(*args, **kwargs):
    return subprocess.run(MONITOR + list(args), capture_output=True,
                          text=True, timeout=60, **kwargs)


def conf(tmp_path, text):
    path = tmp_path / "m.conf"
    path.write_text(textwrap.dedent("""\
        [DEFAULT]
        hostname = cmp-1
        state_path = %s
        [libvirt]
        connection_uri = test:///default
        """) % (tmp_path / "state") + textwrap.dedent(text))
    return str(path)


@pytest.mark.parametrize("name", sorted(cmd.COMMANDS))
def test_every_command_has_a_whole_summary_and_description(name):
    doc = cmd.COMMANDS[name].__doc__
    summary = " ".join(doc.partition("\n\n")[0].split())
    assert summary.endswith(".") and summary.count(".") >= 1
    result = run(name, "--help")
    assert result.returncode == 0
    assert summary in " ".join(result.stdout.split())
    assert "--debug" in result.stdout and "--config-file" in result.stdout


def test_top_level_help_lists_commands_and_exit_statuses():
    result = run("--help")
    text = " ".join(result.stdout.split())
    for name in cmd.COMMANDS:
        assert name in text
    assert "exit status: 0 done; 1 failed" in text


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("instanceha-monitor ")


def test_defect_a_state_path_under_a_file_is_one_line(tmp_path):
    """start answered a state path under a regular file with a
    traceback."""
    (tmp_path / "file").write_text("")
    path = conf(tmp_path, "[status]\nport = 0\n")
    text = open(path).read().replace(str(tmp_path / "state"),
                                     str(tmp_path / "file" / "state"))
    open(path, "w").write(text)
    result = run("start", "--config-file", path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("instanceha-monitor: cannot use the state "
                           "directory %s" % (tmp_path / "file" / "state"))
    assert "Not a directory" in last and "set [DEFAULT] state_path" in last
    assert "Traceback" not in result.stderr + result.stdout


def test_defect_a_busy_status_port_is_one_line(tmp_path):
    """start answered a busy port with a traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("start", "--config-file", conf(
            tmp_path, "[status]\nport = %d\n" % port))
    assert result.returncode == 1
    assert "instanceha-monitor: cannot listen on 127.0.0.1:%d: address " \
        "already in use; another monitor or service has it: set [status] " \
        "port (0 picks a free one)" % port in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_state_of_a_newer_version_is_one_line_and_exit_2(tmp_path):
    """systemd does not restart a monitor older than its state."""
    import sqlite3

    (tmp_path / "state").mkdir()
    db = sqlite3.connect(str(tmp_path / "state" / "state.sqlite"))
    db.execute("PRAGMA user_version = 99")
    db.close()
    result = run("start", "--config-file", conf(tmp_path,
                                                "[status]\nport = 0\n"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "instanceha-monitor: the state database %s has schema version 99, "
        "newer than this instanceha-monitor knows (%d): upgrade "
        "osc-instanceha, or point [DEFAULT] state_path elsewhere" % (
            tmp_path / "state" / "state.sqlite", store.VERSION))


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "file").write_text("")
    path = conf(tmp_path, "[status]\nport = 0\n")
    text = open(path).read().replace(str(tmp_path / "state"),
                                     str(tmp_path / "file" / "state"))
    open(path, "w").write(text)
    result = run("start", "--debug", "--config-file", path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr + result.stdout


def test_missing_runtime_exits_2_with_the_install_line(tmp_path):
    """The plugin's laptop install has no libvirt-python."""
    code = ("import sys; sys.modules['libvirt'] = None; "
            "from monitor import cmd; "
            "sys.exit(cmd.main(['check', '--config-file', %r]))"
            % conf(tmp_path, ""))
    result = subprocess.run([sys.executable, "-c", code],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "instanceha-monitor: the monitor's runtime is not installed "
        "(missing: libvirt): pip install 'osc-instanceha[monitor]'")


def test_status_without_a_monitor_is_one_line(tmp_path):
    result = run("status", "--config-file", conf(
        tmp_path, "[status]\nport = 1\n"))
    assert result.returncode == 1
    assert result.stderr.startswith(
        "instanceha-monitor: no running monitor answers on %s (No such "
        "file or directory)" % (tmp_path / "state" / "control.sock"))
    assert len(result.stderr.strip().splitlines()) == 1


def test_health_without_a_monitor_is_one_line(tmp_path):
    result = run("health", "--config-file", conf(
        tmp_path, "[status]\nport = 1\n"))
    assert result.returncode == 1
    assert result.stderr.startswith(
        "instanceha-monitor: no monitor answers on "
        "http://127.0.0.1:1/healthz (")
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_says_connection_refused_with_the_url(tmp_path):
    """check said 'DiscoveryFailure ... version hack disabled' for a
    Masakari that refuses connections."""
    result = run("check", "--config-file", conf(tmp_path, """\
        [api]
        auth_type = none
        endpoint_override = http://127.0.0.1:9/v1
        """))
    assert result.returncode == 1
    assert "FAIL masakari  cannot query Masakari: http://127.0.0.1:9/v1: " \
        "cannot connect: connection refused" in result.stdout
    assert result.stderr == ""


def test_check_says_when_novas_servers_cannot_be_listed(tmp_path):
    """A hang verdict waits on Nova's task states: check says when the
    [api] user cannot list them."""
    result = run("check", "--config-file", conf(tmp_path, """\
        [api]
        auth_type = none
        endpoint_override = http://127.0.0.1:9/v1
        """))
    assert "FAIL nova servers cannot list this host's servers in Nova:" \
        in result.stdout


def domain(name, **fence):
    return dict({"name": name, "uuid": "u-" + name, "state": "shutoff",
                 "last_event": "STOPPED_DESTROYED",
                 "last_decision": "notify QEMU_GUEST_AGENT_ERROR/"
                                  "STOPPED_FAILED"}, **fence)


def test_status_says_how_each_fence_went(monkeypatch, capsys):
    import argparse
    import types

    state = {"hostname": "cmp-1", "recovery_backend": "masakari",
             "libvirt": {"uri": "qemu:///system", "connected": True,
                         "last_error": None},
             "outbox": {"pending": 0, "overdue": 0, "entries": []},
             "domains": [
                 domain("a", fence="asking Nova before fencing"),
                 domain("b", fenced_at="2026-01-01T00:00:31.000000",
                        fence_seconds=0.214),
                 domain("c", fence_skipped="Nova task under way: migrating"),
                 domain("d", fence_failed="no answer from libvirt within "
                                          "30 s")]}
    monkeypatch.setattr(cmd, "fetch_status", lambda url, timeout: state)
    conf = types.SimpleNamespace(state_path="/var/lib/instanceha")
    assert cmd.cmd_status(conf, argparse.Namespace(json=False)) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()
             if line.startswith("      ")]
    assert lines == [
        "fence: asking Nova before fencing",
        "fenced at 2026-01-01T00:00:31.000000 in 0.214 s",
        "fence skipped: Nova task under way: migrating",
        "fence FAILED: no answer from libvirt within 30 s"]


@pytest.mark.parametrize("length,why", [
    ("0", "pause length '0' is zero"),
    ("-1h", "pause length '-1h' is negative"),
    ("an hour", "pause length 'an hour' is not understood"),
    ("2h", "longer than the maximum of 1h ([recovery] max_pause)"),
])
def test_a_bad_pause_is_one_line_and_reaches_no_monitor(tmp_path, length,
                                                       why):
    result = run("pause", "--for=" + length, "--config-file", conf(
        tmp_path, "[recovery]\nmax_pause = 3600\n"))
    assert result.returncode == 2
    line, = result.stderr.splitlines()
    assert line.startswith("instanceha-monitor: ") and why in line
    assert not (tmp_path / "state").exists()  # not even looked for


def test_pause_and_resume_without_a_monitor_say_so(tmp_path):
    for args in (["pause", "--for", "1h"], ["resume"]):
        result = run(*args, "--config-file", conf(tmp_path, ""))
        assert result.returncode == 1
        assert "no running monitor answers on %s" % (
            tmp_path / "state" / "control.sock") in result.stderr


def test_history_lists_shadow_decisions_of_the_last_week(tmp_path):
    from monitor import effects as fx

    now = [1_000_000.0]
    state = store.Store(tmp_path / "state", lambda: now[0])
    body = {"type": "VM", "hostname": "cmp-1", "generated_time": "x",
            "payload": {"event": "QEMU_GUEST_AGENT_ERROR",
                        "instance_uuid": "u-1",
                        "vir_domain_event": "STOPPED_FAILED"}}
    for key, at in (("old", time.time() - 8 * 86400),
                    ("new", time.time() - 3600)):
        now[0] = at
        state.apply([fx.WouldRecover(key, body, "hang", "guest kernel "
                                     "silent", "u-1", 1, "would fence")])
    path = conf(tmp_path, "")
    result = run("history", "--config-file", path)  # while it is locked
    state.close()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1 would-recover decisions since ")
    assert "hang     u-1 QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED" in lines[1]
    assert lines[2:] == ["      guest kernel silent",
                         "      fence: would fence"]
    result = run("history", "--since", "30d", "--json", "--config-file",
                 path)
    assert [row["key"] for row in json.loads(result.stdout)] == \
        ["old", "new"]
    result = run("history", "--since", "soon", "--config-file", path)
    assert result.returncode == 2 and "--since 'soon' is not understood" \
        in result.stderr


def test_status_says_shadow_mode_and_pauses(monkeypatch, capsys):
    import argparse
    import types

    state = {"hostname": "cmp-1", "recovery_backend": "masakari",
             "mode": "shadow", "paused_until": "2026-12-03T16:00:00Z",
             "would_recover": {"count": 4, "recent": []},
             "libvirt": {"uri": "qemu:///system", "connected": True,
                         "last_error": None},
             "outbox": {"pending": 0, "overdue": 0, "entries": []},
             "domains": [dict(domain("a"),
                              paused_until="2026-12-03T15:00:00Z")]}
    monkeypatch.setattr(cmd, "fetch_status", lambda url, timeout: state)
    conf = types.SimpleNamespace(state_path="/var/lib/instanceha")
    assert cmd.cmd_status(conf, argparse.Namespace(json=False)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == [
        "SHADOW MODE: nothing is sent or fenced; 4 would-recover decisions "
        "recorded (instanceha-monitor history)",
        "PAUSED by the operator until 2026-12-03T16:00:00Z: no failure is "
        "acted on (instanceha-monitor resume ends it)"]
    assert "      paused until 2026-12-03T15:00:00Z (HA_Paused_Until)" in out
    state.update(mode="enforce", paused_until=None)
    cmd.cmd_status(conf, argparse.Namespace(json=False))
    assert "SHADOW" not in capsys.readouterr().out
