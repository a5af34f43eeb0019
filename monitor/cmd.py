"""``instanceha-monitor``: the host monitor's console script.

Every failure an operator will meet is one line on stderr that says the
cause and what to do; a traceback only with ``--debug``.  Exit statuses:
0 done, 1 failed (a check, no monitor answering, a start failure), 2 the
configuration is wrong, the monitor's runtime is not installed or is
older than its state (systemd does not restart the unit for 2:
``RestartPreventExitStatus=2``).
"""
import argparse
import asyncio
import errno
import importlib.metadata
import json
import logging
import os
import signal
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from oslo_config import cfg
from oslo_log import log

from monitor import conf as monitor_conf
from monitor import control_client
from monitor import notification
from monitor import pause
from monitor.conf import validate

PROJECT = "instanceha"
PROG = "instanceha-monitor"
DEFAULT_CONFIG = "/etc/instanceha/instanceha-monitor.conf"
EXTRA = ("the monitor's runtime is not installed (missing: %s): pip "
         "install 'osc-instanceha[monitor]'")


class Failure(Exception):
    """One line for the operator, and the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def load_config(args, conf=None):
    """Parse and validate the config; exits 2 with every problem named."""
    try:
        conf = monitor_conf.parse(args.config_file, args.config_dir,
                                  PROJECT, PROG, conf)
        validate.check(conf)
    except (cfg.Error, validate.ConfigError) as exc:
        sys.stderr.write("%s: configuration error:\n%s\n" % (PROG, exc))
        sys.exit(2)
    return conf


def _runtime():
    """Import what ``pip install .[monitor]`` adds, or say it is missing."""
    missing = []
    for module in ("libvirt", "aiohttp", "prometheus_client"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise Failure(EXTRA % ", ".join(missing), status=2)


def cmd_start(conf, args):
    """Run the monitor in the foreground, as systemd does.

    SIGTERM or SIGINT stop it (a notification still being sent stays on
    disk and goes out after the next start); SIGHUP re-reads the config
    files and applies the options marked mutable in the configuration
    reference (heartbeats, kernel heartbeat, restart budget, storm guard,
    host stall, forwarding, fencing, mode, max_pause).  It keeps running
    while libvirtd or Masakari are away and says so in its status.
    """
    _runtime()
    from monitor import service
    from monitor import store

    log.setup(conf, PROG)

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        monitor = service.Monitor(conf)
        loop.add_signal_handler(signal.SIGHUP, monitor.reload)
        await monitor.run(stop)

    try:
        asyncio.run(main())
    except store.StateLocked as exc:
        raise Failure(str(exc)) from exc
    except store.StateTooNew as exc:  # no restart helps, as for a config
        raise Failure(str(exc), status=2) from exc
    except OSError as exc:
        raise Failure(_start_error(conf, exc)) from exc
    return 0


def _start_error(conf, exc):
    from monitor import status_http

    if isinstance(exc, status_http.ListenError):
        listen, port = exc.options
        if exc.errno == errno.EADDRINUSE:
            return ("cannot listen on %s:%d: address already in use; "
                    "another monitor or service has it: set [status] %s "
                    "(0 picks a free one)" % (exc.host, exc.port, port))
        return ("cannot listen on %s:%d: %s; set [status] %s to an address "
                "of this host" % (exc.host, exc.port, exc.strerror, listen))
    where = exc.filename or conf.state_path
    return ("cannot use the state directory %s: %s (%s); set [DEFAULT] "
            "state_path to a directory root can create and write" % (
                conf.state_path, exc.strerror or exc, where))


def cmd_check(conf, args):
    """Check that the monitor can work on this host.

    The config files, libvirt (connection and domains), the state
    directory, and the recovery backend's peer: Masakari knows this host
    in a failover segment (or Nova runs a compute service by this name).
    One line per check; exit status 1 when any fails.
    """
    _runtime()
    from monitor import check

    checks = check.run(conf)
    for item in checks:
        print("%-4s %-9s %s" % (check.label(item), item.what, item.detail))
    return 0 if all(item.ok for item in checks) else 1


def status_url(conf):
    if conf.status.port == 0:
        return (Path(conf.state_path) / "status.url").read_text().strip()
    return "http://%s:%d" % (conf.status.listen, conf.status.port)


def cmd_health(conf, args):
    """Exit 0 while the running monitor's /healthz answers 200, else 1.

    For health checks that cannot read JSON (a container's HEALTHCHECK,
    podman's HealthCmd): it asks the local status endpoint of [status]
    listen and port.  With --require-libvirt it also fails while the
    monitor has no libvirt connection (the monitor keeps running and
    reconnects; use it for what reports, not for what restarts).
    """
    url = status_url(conf) + "/healthz"
    if args.require_libvirt:
        url += "?require=libvirt"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as answer:
            state = json.load(answer)
    except urllib.error.HTTPError as exc:
        try:
            state = json.load(exc)
        except ValueError:
            state = {}
        raise Failure("unhealthy: %s answered HTTP %d: %s" % (
            url, exc.code, health_reason(state))) from exc
    except (OSError, ValueError) as exc:
        raise Failure("no monitor answers on %s (%s); is it started?" % (
            url, getattr(exc, "reason", None) or exc)) from exc
    print("healthy: libvirt %s, store %s" % (
        "connected" if state["libvirt"]["connected"] else "DISCONNECTED",
        "writable" if state["store"]["writable"] else "CANNOT COMMIT"))
    return 0


def health_reason(state):
    """Why /healthz said no, from its JSON."""
    if "error" in state:
        return state["error"]
    reasons = []
    store = state.get("store") or {}
    if store and not store.get("writable", True):
        reasons.append("the state store cannot commit (%s)" % (
            store.get("error") or "unknown"))
    lv = state.get("libvirt") or {}
    if lv and not lv.get("connected", True):
        reasons.append("libvirt not connected%s" % (
            " (%s)" % lv["last_error"] if lv.get("last_error") else ""))
    return "; ".join(reasons) or "no reason given"


def control_socket(conf):
    return Path(conf.state_path) / control_client.SOCKET


def fetch_status(socket_path, timeout):
    """The running monitor's status document, from its control socket:
    PermissionError for a user that is neither root nor the monitor's."""
    return control_client.get_status(socket_path, timeout)


def cmd_status(conf, args):
    """Show the running monitor's state, from its control socket (root).

    The libvirt connection, every domain with its last event, decision
    and reason, what would find a hang of it (agent, kernel), pending
    notifications with their last error, a host alert when the storm
    guard holds notifications back, and a state store that cannot commit.
    """
    path = control_socket(conf)
    try:
        state = fetch_status(path, timeout=10)
    except control_client.Refused as exc:
        raise Failure(str(exc)) from exc
    except PermissionError as exc:
        raise Failure("%s is root's: run this as root (the status names "
                      "every instance on the host)" % path) from exc
    except OSError as exc:
        raise Failure("no running monitor answers on %s (%s); is it "
                      "started? (systemctl status instanceha-monitor)" % (
                          path, exc.strerror or exc)) from exc
    if args.json:
        json.dump(state, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    lv = state["libvirt"]
    print("host %s, recovery through %s, libvirt %s: %s%s" % (
        state["hostname"], state["recovery_backend"], lv["uri"],
        "connected" if lv["connected"] else "DISCONNECTED",
        "" if lv["connected"] or not lv["last_error"]
        else " (%s)" % lv["last_error"]))
    shadow = state.get("would_recover") or {"count": 0}
    if state.get("mode") == "shadow":
        print("SHADOW MODE: nothing is sent or fenced; %d would-recover "
              "decisions recorded (instanceha-monitor history)" %
              shadow["count"])
    if state.get("paused_until"):
        print("PAUSED by the operator until %s: no failure is acted on "
              "(instanceha-monitor resume ends it)" % state["paused_until"])
    if state.get("host_alert"):
        print("HOST ALERT: %s" % state["host_alert"])
    store = state.get("store") or {"writable": True}
    if not store["writable"]:
        print("STATE STORE CANNOT COMMIT since %s: %d changes only in "
              "memory, lost on a restart (%s); free space or fix the file "
              "system under [DEFAULT] state_path" % (
                  notification.iso(store["since"]), store["unwritten"],
                  store["error"]))
    for domain in state["domains"]:
        print("  %-20s %-36s %-9s %-18s %s" % (
            domain["name"], domain["uuid"], domain.get("state", "?"),
            domain.get("last_event", "-"), domain.get("last_decision", "")))
        if "heartbeat" in domain:
            print("      hang detection: %s; agent: %s, failures %d, last "
                  "ok %s; kernel: %s%s" % (
                      domain["hang_detection"], domain["heartbeat"],
                      domain["heartbeat_failures"],
                      domain["last_heartbeat_ok"] or "never",
                      domain["kernel"],
                      ", QUARANTINED since %s" % domain["quarantined_since"]
                      if domain.get("quarantined_since") else ""))
        if domain.get("paused_until"):
            print("      paused until %s (HA_Paused_Until)" %
                  domain["paused_until"])
        if domain.get("pause_problem"):
            print("      %s" % domain["pause_problem"])
        if domain.get("last_forensics"):
            print("      forensics: %s" % domain["last_forensics"])
        if domain.get("fence"):
            print("      fence: %s" % domain["fence"])
        elif domain.get("fenced_at"):
            print("      fenced at %s in %.3f s" % (domain["fenced_at"],
                                                     domain["fence_seconds"]))
        elif domain.get("fence_skipped") or domain.get("fence_failed"):
            print("      fence %s" % (
                "skipped: " + domain["fence_skipped"]
                if domain.get("fence_skipped") else
                "FAILED: " + domain["fence_failed"]))
    outbox = state["outbox"]
    print("outbox: %d pending%s" % (outbox["pending"], ", %d OVERDUE" % (
        outbox["overdue"]) if outbox["overdue"] else ""))
    for entry in outbox["entries"]:
        print("  %-8s %s %s attempts=%d %s" % (
            entry["state"], entry["instance_uuid"], entry["event"],
            entry["attempts"], entry["last_error"] or ""))
    return 0


def cmd_clear_quarantine(conf, args):
    """Let a quarantined VM be recovered again (its restart budget is
    reset).

    Root only: it talks to the running monitor's control socket in the
    state directory.
    """
    path = control_socket(conf)
    try:
        code, answer = control_client.post(path,
                                           "/quarantine/%s/clear" % args.uuid)
    except PermissionError as exc:
        raise Failure("%s is root's: run this as root" % path) from exc
    except OSError as exc:
        raise Failure("no running monitor answers on %s (%s)" % (
            path, exc.strerror or exc)) from exc
    if code != 200:
        raise Failure(answer.get("error", "HTTP %s" % code))
    print("cleared %s" % answer["cleared"])
    return 0


def _control(conf, url_path):
    """(status, answer) of a request to the running monitor's control
    socket, or a Failure that says why there is none."""
    path = Path(conf.state_path) / control_client.SOCKET
    try:
        return control_client.post(path, url_path)
    except PermissionError as exc:
        raise Failure("%s is root's: run this as root" % path) from exc
    except OSError as exc:
        raise Failure("no running monitor answers on %s (%s)" % (
            path, exc.strerror or exc)) from exc


def cmd_pause(conf, args):
    """Pause the monitor on this host for a while: no failure of any
    guest is acted on until the pause ends, by itself.

    For host maintenance. The end time is kept in the state store (a
    restart keeps it) and shown by status and the metrics
    (instanceha_paused_until_timestamp_seconds). Evidence gathered during
    the pause does not count afterwards; a death during it is recorded
    and not recovered. --for takes 90s, 30m, 2h, 1d, at most [recovery]
    max_pause. Root only (the control socket). To pause one server, use
    'openstack instanceha pause SERVER --for 2h'.
    """
    try:  # refused here first: a typo never reaches the monitor
        pause.duration(args.length, conf.recovery.max_pause)
    except pause.PauseError as exc:
        raise Failure(str(exc), status=2) from exc
    code, answer = _control(conf, "/pause?for=%s" % urllib.parse.quote(
        args.length))
    if code != 200:
        raise Failure(answer.get("error", "HTTP %s" % code))
    print("paused until %s" % answer["paused_until"])
    return 0


def cmd_resume(conf, args):
    """End the pause of the monitor on this host now.

    Every guest is judged again, on evidence gathered from now on. Root
    only (the control socket).
    """
    code, answer = _control(conf, "/resume")
    if code != 200:
        raise Failure(answer.get("error", "HTTP %s" % code))
    print("resumed: monitoring acts on failures again")
    return 0


def cmd_history(conf, args):
    """List what shadow mode would have recovered, from the state store.

    One line per decision that enforce mode would have sent (a death, a
    hang, an I/O error): when, which instance, why, and what the fence of
    a hang would have done. Reads the store directly (root), also while
    the monitor runs or after it stopped; kept for [DEFAULT]
    history_retention_days.
    """
    from monitor import status as status_mod
    from monitor import store

    try:
        since = time.time() - pause.duration(args.since, float("inf"))
    except pause.PauseError as exc:
        raise Failure(str(exc).replace("pause length", "--since"),
                      status=2) from exc
    try:
        db = store.open_read_only(conf.state_path)
    except PermissionError as exc:
        raise Failure("%s is root's: run this as root" % conf.state_path
                      ) from exc
    except OSError as exc:
        raise Failure("no state database under %s (%s): has the monitor "
                      "run with this config?" % (conf.state_path,
                                                 exc.strerror or exc)
                      ) from exc
    except (store.StateTooNew, store.StateTooOld) as exc:
        raise Failure(str(exc)) from exc
    try:
        rows = [status_mod.would_recover_view(row) for row in
                store.read_would_recover(db, since)]
    finally:
        db.close()
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print("%d would-recover decisions since %s" % (
        len(rows), notification.iso(since)[:19] + "Z"))
    for row in rows:
        print("%sZ %-8s %s %s\n      %s%s" % (
            row["decided_at"][:19], row["kind"], row["instance_uuid"],
            row["event"], row["reason"],
            "\n      fence: %s" % row["fence"] if row["fence"] else ""))
    return 0


COMMANDS = {"start": cmd_start, "check": cmd_check, "status": cmd_status,
            "health": cmd_health, "clear-quarantine": cmd_clear_quarantine,
            "pause": cmd_pause, "resume": cmd_resume, "history": cmd_history}


def version():
    try:
        return importlib.metadata.version("osc-instanceha")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config-file", action="append", metavar="PATH",
        help="a config file; may be repeated, later files win (default: "
             "%s when it exists)" % DEFAULT_CONFIG)
    common.add_argument(
        "--config-dir", metavar="DIR",
        help="also read every *.conf file of DIR, in name order")
    common.add_argument("--debug", action="store_true",
                        help="debug logging, and a traceback on failure")
    top = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="VM high-availability host monitor for OpenStack "
                    "compute hosts: finds dead QEMU processes and hung "
                    "guests and has them recovered by Masakari, Nova or "
                    "libvirt.",
        epilog="exit status: 0 done; 1 failed (a check, no monitor "
               "answering, a start failure); 2 configuration error, the "
               "monitor's runtime not installed or older than its state.")
    top.add_argument("--version", action="version",
                     version="%s %s" % (PROG, version()))
    sub = top.add_subparsers(dest="command", required=True,
                             metavar="COMMAND")
    for name, func in COMMANDS.items():
        summary, _, details = func.__doc__.partition("\n\n")
        summary = " ".join(summary.split())
        command = sub.add_parser(
            name, parents=[common], help=summary,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            description=summary + ("\n\n" + textwrap.dedent(
                "    " + details.strip()) if details else ""))
        if name == "status":
            command.add_argument("--json", action="store_true",
                                 help="the whole status document as JSON")
        if name == "health":
            command.add_argument(
                "--require-libvirt", action="store_true",
                help="also unhealthy while libvirt is not connected")
            command.add_argument(
                "--timeout", type=float, default=4.0, metavar="SECONDS",
                help="how long to wait for the answer (default 4)")
        if name == "clear-quarantine":
            command.add_argument("uuid", help="the instance's UUID")
        if name == "pause":
            command.add_argument(
                "--for", dest="length", required=True, metavar="LENGTH",
                help="how long: 90s, 30m, 2h, 1d (at most [recovery] "
                     "max_pause)")
        if name == "history":
            command.add_argument(
                "--since", default="7d", metavar="LENGTH",
                help="how far back: 90s, 30m, 2h, 7d (default: 7d)")
            command.add_argument("--json", action="store_true",
                                 help="the decisions as a JSON list")
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    if not args.config_file and not args.config_dir:
        args.config_file = [DEFAULT_CONFIG] if os.path.exists(
            DEFAULT_CONFIG) else []
    conf = load_config(args)
    if args.debug:
        conf.set_override("debug", True)
    else:  # their warnings would interleave with our own lines
        for name in ("keystoneauth", "openstack"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return COMMANDS[args.command](conf, args)
    except Failure as exc:
        if args.debug:
            raise
        sys.stderr.write("%s: %s\n" % (PROG, exc))
        return exc.status
    except Exception as exc:  # the one line promised, then --debug
        if args.debug:
            raise
        sys.stderr.write("%s: %s: %s (run with --debug for the "
                         "traceback)\n" % (PROG, type(exc).__name__, exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
