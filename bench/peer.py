"""The peer: masakari-monitors 22.0.0 from PyPI, in a virtualenv of its own
under the cache, run with the same [DEFAULT], [libvirt] and [api] settings
as our monitor (the option names are shared)."""
import signal
import subprocess
from pathlib import Path

from tools.cloud.masakari_monitors import ensure_venv
from tools.lab import host

class PeerMonitor:
    """masakari-instancemonitor or -introspectiveinstancemonitor."""

    def __init__(self, workdir, cloud, hostname, program="instancemonitor",
                 extra=""):
        venv = ensure_venv()
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / ("masakarimonitors-%s.conf" % program)
        self.conf.write_text(
            "[DEFAULT]\nhostname = %s\n[libvirt]\nconnection_uri = %s\n"
            % (hostname, host.URI) + cloud.monitor_api_section() + extra)
        self.log = open(workdir / ("%s.log" % program), "w")
        self.proc = subprocess.Popen(
            [str(venv / "bin" / ("masakari-" + program)), "--config-file",
             str(self.conf)], stdout=self.log, stderr=subprocess.STDOUT)

    def pid(self):
        return self.proc.pid

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
