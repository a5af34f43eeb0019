"""``openstack instanceha monitor show | set | check | start``: the host
monitor's configuration and live state, from the same client operators
already use."""
import argparse
import importlib.util
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from keystoneauth1 import exceptions as ksa_exc
from osc_lib.command import command
from osc_lib import exceptions

from oslo_config import cfg

from monitor import cmd as monitor_cmd
from monitor import conf as monitor_conf
from monitor.conf import api as api_conf
from monitor.conf import edit
from osc_instanceha import config_file
from osc_instanceha.v1 import constants

DEFAULT_CONFIG = "/etc/instanceha/instanceha-monitor.conf"
SAMPLE = Path(sys.prefix, "share", "instanceha",
              "instanceha-monitor.conf.sample")
# What "pip install .[monitor]" adds; the monitor cannot run without them.
MONITOR_EXTRA = ("libvirt", "aiohttp", "prometheus_client")
HEARTBEATS = "introspectiveinstancemonitor"
# option of `monitor set` -> (section, option name, minimum)
SETTABLE = {
    "interval": (HEARTBEATS, "guest_monitoring_interval", 1),
    "timeout": (HEARTBEATS, "guest_monitoring_timeout", 1),
    "threshold": (HEARTBEATS, "guest_monitoring_failure_threshold", 1),
    "recovery_budget": ("DEFAULT", "recovery_budget", 1),
    "mode": ("recovery", "mode", None),
}
SECRET = {"password", "secret", "token", "application_credential_secret"}


class _Local:
    """Mixed into the monitor commands: they act on this host's monitor
    config, so they need no cloud credentials; all take --config-file."""

    auth_required = False

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--config-file", metavar="<path>", default=DEFAULT_CONFIG,
            help="Monitor config file (default: %s)" % DEFAULT_CONFIG)
        return parser


def _missing_config(path):
    sample = SAMPLE if SAMPLE.exists() else \
        "the sample config (instanceha-monitor.conf.sample)"
    return exceptions.CommandError(
        "no config file at %s: create it from %s (set [DEFAULT] hostname "
        "and [api]), or give --config-file" % (path, sample))


def _load(path):
    """The monitor's effective config from ``path``, which must exist (the
    default path too: built-in defaults are no host's configuration); a
    CommandError names each problem."""
    if not Path(path).is_file():
        raise _missing_config(path)
    args = argparse.Namespace(config_file=[path], config_dir=None)
    try:
        return monitor_cmd.load_config(args)
    except SystemExit as exc:
        raise exceptions.CommandError(
            "the monitor's configuration is invalid (see above)") from exc


def _require_monitor_extra(what):
    missing = [name for name in MONITOR_EXTRA
               if importlib.util.find_spec(name) is None]
    if missing:
        raise exceptions.CommandError(
            "%s needs the host monitor, which is not installed here (no %s):"
            " pip install 'osc-instanceha[monitor]'" % (
                what, ", ".join(missing)))


def _api_opts(conf):
    """The [api] options the monitor authenticates with: session, adapter
    and common auth options, and those of the configured auth_type (the
    sample lists the password plugin's; keystoneauth registers a plugin's
    options only once it loads it)."""
    opts = list(api_conf.registered_opts())
    auth_type = conf[api_conf.GROUP].auth_type
    if auth_type:
        try:
            plugin = api_conf.auth_plugin_opts(auth_type)
        except ksa_exc.NoMatchingPlugin:
            raise exceptions.CommandError(
                "unknown auth_type %r in [%s]" % (auth_type, api_conf.GROUP)
            ) from None
        conf.register_opts(plugin, group=api_conf.GROUP)
        opts += plugin
    return list({opt.dest: opt for opt in opts}.values())


class ShowMonitor(_Local, command.Lister):
    """Show the monitor's effective configuration, where each value comes
    from, and the live state of the local monitor when it answers."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--control-socket", metavar="<path>",
            help="Control socket of the running monitor (default: "
                 "control.sock in the config's state_path); its status is "
                 "for root and the monitor's user")
        return parser

    def take_action(self, parsed_args):
        conf = _load(parsed_args.config_file)
        rows = []
        for group, opts in monitor_conf.list_opts():
            if group == api_conf.GROUP:
                opts = _api_opts(conf)
            section = conf if group == "DEFAULT" else conf[group]
            for opt in sorted(opts, key=lambda o: o.dest):
                try:
                    value = section[opt.dest]
                except cfg.NoSuchOptError:  # another auth plugin's option
                    continue
                location = conf.get_location(
                    opt.dest, None if group == "DEFAULT" else group)
                source = "default"
                if location is not None and \
                        location.location.is_user_controlled:
                    source = location.detail or "config"
                if opt.secret or opt.dest in SECRET:
                    value = "***" if value else value
                rows.append((group, opt.dest, value, source))
        rows.extend(self._live(conf, parsed_args.control_socket))
        return constants.MONITOR_SHOW_COLUMNS, rows

    @staticmethod
    def _live(conf, socket_path):
        url = socket_path or str(monitor_cmd.control_socket(conf))
        try:
            state = monitor_cmd.fetch_status(url, timeout=5)
        except PermissionError as exc:
            return [("live", "monitor", "not readable: %s (run as root)" % (
                exc.strerror or exc), url)]
        except (OSError, ValueError) as exc:
            return [("live", "monitor", "not answering (%s)" % (
                exc.strerror or exc), "-")]
        rows = [("live", "monitor", "running, pid %s" % state["pid"], url),
                ("live", "libvirt", "connected" if state["libvirt"][
                    "connected"] else "DISCONNECTED: %s" % state["libvirt"][
                        "last_error"], url),
                ("live", "domains", len(state["domains"]), url),
                ("live", "outbox pending", state["outbox"]["pending"], url),
                ("live", "host alert", state.get("host_alert"), url),
                ("live", "mode", state.get("mode"), url),
                ("live", "paused until", state.get("paused_until"), url),
                ("live", "would recover", (state.get("would_recover") or
                                           {}).get("count"), url)]
        return rows


class SetMonitor(_Local, command.Command):
    """Tune the heartbeats, the restart budget and the mode in the config
    file.

    The file is edited in place: comments and other options stay.  A
    monitor running with this config is sent SIGHUP and reloads them.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--interval", type=int, metavar="<seconds>",
                            help="Seconds between two heartbeats of a guest")
        parser.add_argument("--timeout", type=int, metavar="<seconds>",
                            help="Seconds a heartbeat may take")
        parser.add_argument("--threshold", type=int, metavar="<count>",
                            help="Consecutive failed heartbeats that "
                                 "declare a hang")
        parser.add_argument("--recovery-budget", type=int,
                            metavar="<count>",
                            help="Recoveries per VM per budget window")
        parser.add_argument("--mode", choices=("enforce", "shadow"),
                            help="shadow: decide and record what would be "
                                 "recovered, send and fence nothing; "
                                 "enforce: recover")
        return parser

    def take_action(self, parsed_args):
        path = Path(parsed_args.config_file)
        changes = {name: getattr(parsed_args, name) for name in SETTABLE
                   if getattr(parsed_args, name) is not None}
        if not changes:
            raise exceptions.CommandError("nothing to set: give at least "
                                          "one of --interval, --timeout, "
                                          "--threshold, --recovery-budget, "
                                          "--mode")
        for name, value in changes.items():
            if SETTABLE[name][2] is not None and value < SETTABLE[name][2]:
                raise exceptions.CommandError("--%s must be at least %d" % (
                    name.replace("_", "-"), SETTABLE[name][2]))
        conf = _load(str(path))
        heartbeats = conf[HEARTBEATS]
        interval = changes.get("interval",
                               heartbeats.guest_monitoring_interval)
        timeout = changes.get("timeout", heartbeats.guest_monitoring_timeout)
        if timeout >= interval:
            raise exceptions.CommandError(
                "the timeout (%d s) must be shorter than the interval "
                "(%d s)" % (timeout, interval))
        text = path.read_text()
        by_section = {}
        for name, value in changes.items():
            section, option, _ = SETTABLE[name]
            by_section.setdefault(section, {})[option] = str(value)
        for section, values in by_section.items():
            text = edit.set_options(text, section, values)
        try:
            # The whole new file is checked as the monitor will read it;
            # mode, owner and a symlink stay (see config_file).
            config_file.replace(path, text, check=_load)
        except OSError as exc:
            raise exceptions.CommandError(
                "cannot rewrite %s keeping its mode and owner: %s" % (
                    os.path.realpath(path), exc)) from exc
        self.app.stdout.write("%s updated: %s\n%s\n" % (path, ", ".join(
            "%s = %s" % (SETTABLE[n][1], v) for n, v in changes.items()),
            _reload_running(_load(str(path)), changes)))


def _status(conf):
    return monitor_cmd.fetch_status(monitor_cmd.control_socket(conf),
                                    timeout=5)


def _reload_running(conf, changes, wait=5.0):
    """SIGHUP the monitor running with this config, and say whether it
    took the new values (its status shows the settings in use)."""
    try:
        pid = _status(conf)["pid"]
    except (OSError, ValueError, KeyError):
        return ("No monitor answers for this config: the new values apply "
                "when it starts.")
    try:  # the pid of another PID namespace (a container) is not ours
        command_line = Path("/proc/%d/cmdline" % pid).read_bytes()
    except OSError:
        command_line = b""
    if b"instanceha-monitor" not in command_line:
        return ("The running monitor (pid %d) is not a process of this "
                "host: restart it to apply the new values." % pid)
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        return ("Could not signal the monitor (pid %d: %s): run 'systemctl "
                "reload instanceha-monitor'." % (pid, exc.strerror))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            settings = _status(conf).get("settings", {})
        except (OSError, ValueError):
            settings = {}
        if all(settings.get(name) == value for name, value in
               changes.items()):
            return "The running monitor (pid %d) reloaded it." % pid
        time.sleep(0.2)
    return ("The running monitor (pid %d) did not take the new values "
            "within %.0f s: see its log, or restart it." % (pid, wait))


class CheckMonitor(_Local, command.Lister):
    """Check the monitor's config, libvirt, state directory and Masakari
    registration, as ``instanceha-monitor check`` does (one row per check;
    exit status 1 when any fails)."""

    def take_action(self, parsed_args):
        conf = _load(parsed_args.config_file)
        _require_monitor_extra("monitor check")
        from monitor import check

        checks = check.run(conf)
        failed = [c for c in checks if not c.ok]
        if failed:  # after the table: the rows are what says why
            self._failed = "%d of %d checks failed: %s" % (
                len(failed), len(checks), ", ".join(c.what for c in failed))
        return check.COLUMNS, [check.row(c) for c in checks]

    def run(self, parsed_args):
        self._failed = None
        result = super().run(parsed_args)
        if self._failed:
            raise exceptions.CommandError(self._failed)
        return result


class StartMonitor(_Local, command.Command):
    """Run the host monitor in the foreground with this config."""

    def take_action(self, parsed_args):
        _load(parsed_args.config_file)  # refuse a bad config before exec
        _require_monitor_extra("monitor start")
        program = shutil.which("instanceha-monitor") or "instanceha-monitor"
        os.execvp(program, [program, "start", "--config-file",
                            parsed_args.config_file])
