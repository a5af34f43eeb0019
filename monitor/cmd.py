"""``instanceha-monitor start | check | status`` (the console script)."""
import argparse
import asyncio
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from oslo_config import cfg
from oslo_log import log

from monitor import conf as monitor_conf
from monitor.conf import recovery
from monitor.conf import validate

PROJECT = "instanceha"
PROG = "instanceha-monitor"


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


def cmd_start(conf, _args):
    """Run the monitor in the foreground (SIGTERM or SIGINT stop it,
    SIGHUP reloads the mutable options)."""
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
        sys.stderr.write("%s: %s\n" % (PROG, exc))
        return 1
    return 0


def cmd_check(conf, _args):
    """Config, libvirt, state directory and the recovery backend's peer,
    each said plainly."""
    import libvirt

    from monitor import libvirt_watch

    failures = 0

    def report(ok, what, detail):
        nonlocal failures
        failures += 0 if ok else 1
        print("%s %-9s %s" % ("ok  " if ok else "FAIL", what, detail))

    report(True, "config", ", ".join(validate.config_files(conf)) or
           "no config file: built-in defaults")
    libvirt_watch.register_error_handler()
    try:
        conn = libvirt.open(conf.libvirt.connection_uri)
        count = len(conn.listAllDomains())
        conn.close()
        report(True, "libvirt", "%s: %d domains" % (
            conf.libvirt.connection_uri, count))
    except libvirt.libvirtError as exc:
        report(False, "libvirt", "cannot open %s: %s" % (
            conf.libvirt.connection_uri, exc))
    state = Path(conf.state_path)
    try:
        state.mkdir(parents=True, exist_ok=True)
        probe = state / ".write-test"
        probe.write_text("")
        probe.unlink()
        report(True, "state", "%s is writable" % state)
    except OSError as exc:
        report(False, "state", "%s is not writable: %s" % (state, exc))
    backend = conf.recovery.backend
    {recovery.MASAKARI: _check_masakari, recovery.NOVA: _check_nova,
     recovery.LIBVIRT: _check_libvirt_backend}[backend](conf, report)
    return 1 if failures else 0


def _check_masakari(conf, report):
    from monitor import masakari

    try:
        found = masakari.find_host(masakari.connect(conf), conf.hostname)
    except Exception as exc:  # any failure here is what check reports
        report(False, "masakari", "cannot query Masakari: %s" % (
            masakari.describe(exc)))
        return
    if found is None:
        report(False, "masakari", "host %r is not registered in any "
               "failover segment: Masakari would refuse every "
               "notification (400). Register it, or set [DEFAULT] "
               "hostname to its Masakari name." % conf.hostname)
        return
    segment, host = found
    report(not host.on_maintenance, "masakari",
           "host %r in segment %r%s" % (
               conf.hostname, segment,
               " is ON MAINTENANCE: notifications get 409"
               if host.on_maintenance else ""))


def _check_nova(conf, report):
    from monitor import masakari

    try:
        services = list(masakari.connect(conf).compute.services(
            host=conf.hostname, binary="nova-compute"))
    except Exception as exc:  # any failure here is what check reports
        report(False, "nova", "cannot query Nova: %s" % (
            masakari.describe(exc)))
        return
    if not services:
        report(False, "nova", "no nova-compute service on host %r: every "
               "recovery would be refused (servers are matched by host). "
               "Set [DEFAULT] hostname to Nova's name for this host."
               % conf.hostname)
        return
    report(True, "nova", "recovery through Nova for nova-compute on %r "
           "(%s, %s)" % (conf.hostname, services[0].status,
                         services[0].state))


def _check_libvirt_backend(conf, report):
    report(True, "recovery", "libvirt backend: domains on %s are restarted "
           "by this monitor; no cloud is asked" % conf.libvirt.connection_uri)


def status_url(conf):
    if conf.status.port == 0:
        return (Path(conf.state_path) / "status.url").read_text().strip()
    return "http://%s:%d" % (conf.status.listen, conf.status.port)


def fetch_status(base_url, timeout):
    """The running monitor's /status, as JSON."""
    with urllib.request.urlopen(base_url.rstrip("/") + "/status",
                                timeout=timeout) as response:
        return json.load(response)


def cmd_status(conf, args):
    """Show the running monitor's state (from its status endpoint)."""
    try:
        state = fetch_status(status_url(conf), timeout=10)
    except (OSError, urllib.error.URLError) as exc:
        sys.stderr.write("%s: no running monitor answers (%s)\n" % (PROG,
                                                                   exc))
        return 1
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
    if state.get("host_alert"):
        print("HOST ALERT: %s" % state["host_alert"])
    for domain in state["domains"]:
        print("  %-20s %-36s %-9s %-18s %s" % (
            domain["name"], domain["uuid"], domain.get("state", "?"),
            domain.get("last_event", "-"), domain.get("last_decision", "")))
        if "heartbeat" in domain:
            print("      heartbeat: %s, failures %d, last ok %s%s" % (
                domain["heartbeat"], domain["heartbeat_failures"],
                domain["last_heartbeat_ok"] or "never",
                ", QUARANTINED since %s" % domain["quarantined_since"]
                if domain.get("quarantined_since") else ""))
        if domain.get("last_forensics"):
            print("      forensics: %s" % domain["last_forensics"])
    print("outbox: %d pending" % state["outbox"]["pending"])
    for entry in state["outbox"]["entries"]:
        print("  %-8s %s %s attempts=%d %s" % (
            entry["state"], entry["instance_uuid"], entry["event"],
            entry["attempts"], entry["last_error"] or ""))
    return 0


def cmd_clear_quarantine(conf, args):
    """Let a quarantined VM be recovered again (restart budget reset).
    Root only: it talks to the monitor's control socket."""
    from monitor import control

    path = Path(conf.state_path) / control.SOCKET
    try:
        code, answer = control.post(path, "/quarantine/%s/clear" % args.uuid)
    except PermissionError:
        sys.stderr.write("%s: %s is root's: run this as root\n"
                         % (PROG, path))
        return 1
    except OSError as exc:
        sys.stderr.write("%s: no running monitor answers on %s (%s)\n"
                         % (PROG, path, exc.strerror or exc))
        return 1
    if code != 200:
        sys.stderr.write("%s: %s\n" % (PROG, answer.get("error", code)))
        return 1
    print("cleared %s" % answer["cleared"])
    return 0


COMMANDS = {"start": cmd_start, "check": cmd_check, "status": cmd_status,
            "clear-quarantine": cmd_clear_quarantine}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description="VM high-availability host monitor")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in COMMANDS.items():
        command = sub.add_parser(name, help=(func.__doc__ or "").split(
            "\n")[0] or None)
        command.add_argument("--config-file", action="append",
                             metavar="PATH", help="may be repeated")
        command.add_argument("--config-dir", metavar="DIR")
        if name == "status":
            command.add_argument("--json", action="store_true")
        if name == "clear-quarantine":
            command.add_argument("uuid", help="instance UUID")
    args = parser.parse_args(argv)
    if not args.config_file and not args.config_dir:
        default = "/etc/instanceha/instanceha-monitor.conf"
        args.config_file = [default] if os.path.exists(default) else []
    conf = load_config(args)
    return COMMANDS[args.command](conf, args)


if __name__ == "__main__":
    sys.exit(main())
