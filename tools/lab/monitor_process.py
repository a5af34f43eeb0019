"""The host monitor as its own process, as systemd runs it on a compute
host, configured for the lab's libvirtd and the local cloud."""
import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.lab import host

MONITOR = str(Path(sys.executable).with_name("instanceha-monitor"))


def heartbeat_options(interval, timeout, threshold, extra=""):
    """The [introspectiveinstancemonitor] lines for these settings."""
    return ("\n[introspectiveinstancemonitor]\n"
            "guest_monitoring_interval = %d\n"
            "guest_monitoring_timeout = %d\n"
            "guest_monitoring_failure_threshold = %d\n%s"
            % (interval, timeout, threshold, extra))


# Heartbeats every 2 s, 1 s timeout, 3 failures: a hang found in ~7 s,
# with guests whose balloon statistics come every FAST_STATS_PERIOD s.
FAST_HEARTBEATS = heartbeat_options(2, 1, 3,
                                    "kernel_heartbeat_slack = 2\n")
FAST_STATS_PERIOD = 2


def domain_view(state, dom):
    """One domain in the monitor's status ({} until the monitor saw it)."""
    return next((d for d in state.get("domains", [])
                 if d["uuid"] == dom.UUIDString()), {})


def outbox_entries(state, dom):
    """The monitor's outbox entries for one domain."""
    return [e for e in state.get("outbox", {}).get("entries", [])
            if e["instance_uuid"] == dom.UUIDString()]


def notification_accepted(dom):
    """A predicate on the monitor's state: a notification of ``dom`` was
    accepted by Masakari (what every recovery test waits for)."""
    return lambda state: any(e["state"] == "accepted"
                             for e in outbox_entries(state, dom))


class MonitorProcess:
    """``instanceha-monitor start`` as systemd would run it."""

    def __init__(self, workdir, cloud, hostname, extra=""):
        Path(workdir).mkdir(parents=True, exist_ok=True)
        self.conf = Path(workdir) / "instanceha-monitor.conf"
        self.state_path = Path(workdir) / "state"
        self.conf.write_text("""\
[DEFAULT]
hostname = {host}
state_path = {state}
[libvirt]
connection_uri = {uri}
[status]
port = 0
[callback]
retry_interval = 1
retry_max_interval = 5
""".format(host=hostname, state=self.state_path, uri=host.URI)
            + cloud.monitor_api_section() + extra)
        self.log = open(Path(workdir) / "monitor.log", "w")
        self.proc = subprocess.Popen(
            self.command(), stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_for(lambda s: s["libvirt"]["connected"])

    def command(self):
        """What starts the monitor in the foreground."""
        return [MONITOR, "start", "--config-file", str(self.conf)]

    def status(self):
        result = subprocess.run(
            [MONITOR, "status", "--json", "--config-file", str(self.conf)],
            capture_output=True, text=True)
        if result.returncode:
            return None
        return json.loads(result.stdout)

    def healthz(self, timeout=10):
        """(HTTP status, JSON body or text) of the monitor's /healthz;
        (None, why) when it does not answer."""
        url = (self.state_path / "status.url").read_text().strip()
        try:
            with urllib.request.urlopen(url + "/healthz",
                                        timeout=timeout) as answer:
                code, body = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            code, body = exc.code, exc.read()
        except OSError as exc:
            return None, str(exc)
        try:
            return code, json.loads(body)
        except ValueError:
            return code, body.decode(errors="replace")

    def stored_entries(self):
        """The outbox as it is on disk (the store's own database, read
        from outside the monitor): dicts with key, state, attempts,
        instance_uuid, event."""
        db = sqlite3.connect("file:%s?mode=ro" % (
            self.state_path / "state.sqlite"), uri=True, timeout=10)
        try:
            rows = db.execute("SELECT key, state, attempts, body FROM "
                              "notification ORDER BY id").fetchall()
        finally:
            db.close()
        entries = []
        for key, state, attempts, body in rows:
            payload = json.loads(body)["payload"]
            entries.append({"key": key, "state": state, "attempts": attempts,
                            "instance_uuid": payload["instance_uuid"],
                            "event": "%s/%s" % (payload["event"], payload[
                                "vir_domain_event"])})
        return entries

    def wait_for(self, predicate, timeout=60, interval=0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("monitor exited: %s"
                                     % self.proc.returncode)
            state = self.status()
            if state is not None and predicate(state):
                return state
            time.sleep(interval)
        raise AssertionError("monitor state not reached in %s s: %s" % (
            timeout, json.dumps(self.status(), indent=1)[-3000:]))

    def log_text(self):
        self.log.flush()
        return (Path(self.log.name)).read_text()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()
