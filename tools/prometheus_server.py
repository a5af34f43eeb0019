"""A real Prometheus server for the functional tier: Debian's
``prometheus`` package (installed as root when missing, its service left
alone), run by hand on a free loopback port with a data directory of its
own, scraping the targets it is given.

    server = PrometheusServer(workdir, targets, scrape_interval=1)
    server.start(); ...; server.query("up"); server.stop()
"""
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from tools import debian
from tools.cloud import peers

PACKAGES = ["prometheus"]
BINARY = "/usr/bin/prometheus"


def can_run():
    """(True, None) or (False, why not)."""
    if Path(BINARY).exists():
        return True, None
    if not shutil.which("apt-get"):
        return False, "no %s and no apt-get to install it" % BINARY
    import os
    if os.geteuid() != 0:
        return False, ("no %s; installing Debian's prometheus needs root"
                       % BINARY)
    return True, None


def ensure_package(log=print):
    debian.install(PACKAGES, log, start_services=False)


class PrometheusServer:
    def __init__(self, workdir, targets, scrape_interval=1.0,
                 job="instanceha-monitor"):
        self.workdir = Path(workdir)
        self.targets, self.job = list(targets), job
        self.scrape_interval = scrape_interval
        self.port = peers.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def start(self, timeout=60):
        ensure_package()
        config = self.workdir / "prometheus.yml"
        config.write_text(json.dumps({
            "global": {"scrape_interval": "%gs" % self.scrape_interval,
                       "scrape_timeout": "%gs" % self.scrape_interval,
                       "evaluation_interval": "%gs" % self.scrape_interval},
            "scrape_configs": [{
                "job_name": self.job,
                "static_configs": [{"targets": self.targets}]}]}))
        self.log = open(self.workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [BINARY, "--config.file=%s" % config,
             "--storage.tsdb.path=%s" % (self.workdir / "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--web.enable-lifecycle"],
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited %s: see %s" % (
                    self.proc.returncode, self.workdir / "prometheus.log"))
            try:
                with urllib.request.urlopen(self.url + "/-/ready",
                                            timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus not ready in %s s" % timeout)

    def query(self, promql):
        url = "%s/api/v1/query?%s" % (
            self.url, urllib.parse.urlencode({"query": promql}))
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.load(answer)["data"]["result"]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc is not None:
            self.log.close()
