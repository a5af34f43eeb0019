"""The monitor in its container on the lab host, as the quadlet unit runs
it: the host's network and name, the libvirt socket, the console logs
read-only, read-only root, every capability dropped but
CAP_DAC_READ_SEARCH, no new privileges.

The config is mounted where the image expects it, so the image's own
command and HEALTHCHECK run unchanged; the state directory is mounted at
its host path, so the lab's checks read the status and the store from
outside as they do for the monitor process.
"""
import json
import subprocess

from tools.lab import host
from tools.lab import monitor_process

NAME = "instanceha-monitor-lab"
CONFIG = "/etc/instanceha/instanceha-monitor.conf"


class ContainerMonitor(monitor_process.MonitorProcess):
    """``podman run`` of the image in the foreground: SIGTERM to it stops
    the container (podman passes signals on), its exit status is the
    monitor's."""

    def __init__(self, workdir, cloud, hostname, image, podman=((), ()),
                 console_dirs=(), extra=""):
        self.image = image
        self.global_options, self.options = podman
        self.console_dirs = [str(path) for path in console_dirs]
        subprocess.run(["podman", "rm", "-f", NAME], capture_output=True)
        super().__init__(workdir, cloud, hostname, extra=extra)

    def podman(self, *args):
        return subprocess.run(["podman", *self.global_options, *args],
                              capture_output=True, text=True, timeout=120)

    def command(self):
        self.state_path.mkdir(mode=0o700, exist_ok=True)
        mounts = ["%s:%s:ro" % (host.SOCKET.parent, host.SOCKET.parent),
                  "%s:%s:ro" % (self.conf, CONFIG),
                  "%s:%s" % (self.state_path, self.state_path)]
        mounts += ["%s:%s:ro" % (path, path) for path in self.console_dirs]
        return ["podman", *self.global_options, "run", "--rm",
                "--name", NAME, *self.options, "--network", "host",
                "--uts", "host", "--read-only", "--cap-drop", "all",
                "--cap-add", "dac_read_search",
                "--security-opt", "no-new-privileges",
                *[arg for mount in mounts for arg in ("--volume", mount)],
                self.image]

    def health(self):
        """(exit status, what the check said) of the image's own health
        check, run now (``podman healthcheck run``: 0 healthy, 1
        unhealthy; what it said is the check command's output, from the
        container's health log)."""
        code = self.podman("healthcheck", "run", NAME).returncode
        state = self.podman("inspect", "--format", "{{json .State.Health}}",
                            NAME)
        log = json.loads(state.stdout or "{}").get("Log") or [{}]
        return code, (log[-1].get("Output") or "").strip()
