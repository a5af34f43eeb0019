"""The fleet view against a real Prometheus (Debian's package) scraping
two real monitors (``instanceha-monitor start`` processes): ``openstack
instanceha monitor list`` and ``status`` through the real CLI, one monitor
stopped under way, a third compute host that never had one."""
import json
import signal
import subprocess
import time

import pytest

from osc_instanceha import prometheus
from tests.functional.test_monitor_masakari import MONITOR
from tests.functional.test_monitor_masakari import monitor_conf
from tests.functional.test_monitor_masakari import wait
from tools import prometheus_server
from tools.cloud import peers

SCRAPE = 1.0  # seconds: a short interval, the bound below is two of them


class Fleet:
    def __init__(self, tmp_path, cloud, seed):
        self.hosts = [seed.unique("fleet") for _ in range(3)]
        self.monitors, self.ports = {}, {}
        for host in self.hosts:
            seed.segment_with_host(host)
        image = seed.image({"hw_qemu_guest_agent": "yes"})
        self.servers = {host: seed.server(image.id, host=host,
                                          metadata={"HA_Enabled": "True"})
                        for host in self.hosts}
        for host in self.hosts[:2]:  # the third never gets a monitor
            port = self.ports[host] = peers.free_port()
            where = tmp_path / host
            where.mkdir()
            conf = monitor_conf(where, cloud, host)
            text = conf.read_text().replace(
                "[status]\nport = 0\n",
                "[status]\nport = 0\nmetrics_listen = 127.0.0.1\n"
                "metrics_port = %d\n" % port)
            conf.write_text(text)
            log = open(where / "monitor.log", "w")
            self.monitors[host] = (subprocess.Popen(
                [MONITOR, "start", "--config-file", str(conf)],
                stdout=log, stderr=subprocess.STDOUT), log, where)
        for host in self.hosts[:2]:
            wait(lambda h=host: (self.monitors[h][2] / "state" /
                                 "metrics.url").exists())
        self.prometheus = prometheus_server.PrometheusServer(
            tmp_path / "prometheus",
            ["127.0.0.1:%d" % self.ports[h] for h in self.hosts[:2]],
            scrape_interval=SCRAPE)
        (tmp_path / "prometheus").mkdir()
        self.prometheus.start()

    def stop_monitor(self, host):
        proc, log, _ = self.monitors[host]
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
        return time.time()

    def close(self):
        self.prometheus.stop()
        for host in list(self.monitors):
            proc, log, _ = self.monitors[host]
            if proc.poll() is None:
                self.stop_monitor(host)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, local_cloud, seed):
    ok, why = prometheus_server.can_run()
    if not ok:
        pytest.skip("real Prometheus: " + why)
    fleet = Fleet(tmp_path_factory.mktemp("fleet"), local_cloud, seed)
    yield fleet
    fleet.close()


def states(fleet):
    client = prometheus.Client(prometheus.Settings(fleet.prometheus.url))
    return prometheus.monitor_states(client)


def listing(cli, fleet):
    rows = cli.json("instanceha", "monitor", "list", "--prometheus-url",
                    fleet.prometheus.url)
    return {r["Host"]: r for r in rows if r["Host"] in fleet.hosts}


def verdict(cli, fleet, host):
    row, = cli.json("instanceha", "status", fleet.servers[host]["id"],
                    "--prometheus-url", fleet.prometheus.url)
    return row["Verdict"], row["Reasons"]


def test_monitor_list_and_status_follow_a_monitor_that_stops(cli, fleet):
    up, down, never = fleet.hosts
    wait(lambda: {up, down} <= {h for h, s in states(fleet).items()
                                if s.up}, timeout=30)

    before = listing(cli, fleet)
    protected = verdict(cli, fleet, down)
    stopped_at = fleet.stop_monitor(down)
    gone = wait(lambda: not states(fleet)[down].up and time.time(),
                timeout=30, interval=0.05)
    after = listing(cli, fleet)
    unprotected = verdict(cli, fleet, down)
    still = verdict(cli, fleet, up)

    print("\nmonitor stopped -> not seen in Prometheus after %.2f s "
          "(scrape interval %.1f s)" % (gone - stopped_at, SCRAPE))
    assert gone - stopped_at <= 2 * SCRAPE + 0.5
    for host in (up, down):
        row = before[host]
        assert (row["Monitor"], row["Mode"], row["Libvirt"], row["Pending"],
                row["Overdue"], row["HA Servers"], row["Attention"]) == (
            "up", "enforce", "connected", 0, 0, 1, [])
        assert row["Version"] and row["Last Scrape"]
        # test:///default has one domain of its own
        assert sum(row["Guests"].values()) == 1
    assert (before[never]["Monitor"], before[never]["Attention"]) == (
        "never seen", ["1 HA server(s) and no monitor running"])
    assert protected == ("protected", [])
    assert after[down]["Monitor"].startswith("not seen since ")
    assert after[down]["Attention"] == [
        "1 HA server(s) and no monitor running"]
    assert after[up]["Monitor"] == "up"
    assert unprotected[0] == "not protected"
    assert unprotected[1][0].startswith("no monitor seen on %s since "
                                        % down)
    assert still[0] == "protected"
    assert verdict(cli, fleet, never) == (
        "not protected", ["no monitor seen on %s" % never])


def test_scrape_cost(fleet):
    """The figures for the monitoring page: what one scrape of a monitor
    costs, as Prometheus measures it, and its size."""
    import urllib.request

    host = fleet.hosts[0]
    wait(lambda: fleet.prometheus.query(
        'scrape_duration_seconds{instance="127.0.0.1:%d"}'
        % fleet.ports[host]), timeout=30)
    durations = fleet.prometheus.query(
        'quantile_over_time(0.5, scrape_duration_seconds{instance='
        '"127.0.0.1:%d"}[1m])' % fleet.ports[host])
    samples = fleet.prometheus.query(
        'scrape_samples_scraped{instance="127.0.0.1:%d"}' % fleet.ports[host])
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                % fleet.ports[host]) as answer:
        size = len(answer.read())
    median = float(durations[0]["value"][1])
    print("\nscrape of one monitor: median %.1f ms, %d samples, %d bytes"
          % (median * 1000, int(float(samples[0]["value"][1])), size))
    assert median < 0.5 and size < 200000
    assert json.dumps(samples)  # the answer was real Prometheus JSON
