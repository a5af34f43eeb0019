"""``openstack instanceha status`` over many servers, through the real
``openstack`` command, against real Keystone, Glance and Masakari and the
Nova emulator:

    python -m bench.cli_status [SERVERS] [REPEATS]     # 1000 5

Wall time of the whole command (interpreter start included, as an operator
waits for it) and the API requests it makes, counted from ``--debug``.
masakari-monitors has no such command; the reference row is ``openstack
server list --long`` over the same servers, the floor any per-server
answer has to pay.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench import results as results_mod
from tools.cloud import peers
from tools.cloud import seed as seed_mod

OPENSTACK = str(Path(sys.executable).with_name("openstack"))
HOSTS = 10


def openstack(cloud, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(cloud.clouds_yaml)
    started = time.monotonic()
    result = subprocess.run([OPENSTACK, "--os-cloud", "admin", *args],
                            env=env, capture_output=True, text=True,
                            check=True, timeout=600)
    return time.monotonic() - started, result


def per_service(debug_output, ports):
    """{service: requests} from ``--debug``'s REQ lines; ``ports`` maps
    each local service's port to its name."""
    counts = collections.Counter(
        ports.get(urllib.parse.urlsplit(url.strip('"')).port, "other")
        for url in re.findall(r"^REQ: curl -g -i -X \w+ (\S+)",
                              debug_output, re.MULTILINE))
    return dict(counts)


def populate(seed, servers):
    """``servers`` across HOSTS hosts in Masakari segments, half of them
    on an image with the agent, 3 in 4 HA-enabled."""
    images = [seed.image({"hw_qemu_guest_agent": "yes"}).id,
              seed.image().id]
    hosts = [seed.unique("bench") for _ in range(HOSTS)]
    for host in hosts:
        seed.segment_with_host(host)
    for index in range(servers):
        seed.server(images[index % 2], host=hosts[index % HOSTS],
                    metadata={"HA_Enabled": str(index % 4 != 3)})


def main(servers=1000, repeats=5):
    commands = {"openstack instanceha status":
                ("instanceha", "status", "-f", "json"),
                "reference: openstack server list --long":
                ("server", "list", "--long", "-f", "json")}
    times = {name: [] for name in commands}
    requests = {}
    with tempfile.TemporaryDirectory(prefix="instanceha-cli-") as tmp:
        cloud = peers.LocalCloud(Path(tmp))
        cloud.start()
        try:
            populate(seed_mod.Seeder(cloud), servers)
            ports = {port: name for name, port in cloud.ports.items()}
            for name, args in commands.items():
                _, result = openstack(cloud, "--debug", *args)
                requests[name] = per_service(result.stderr, ports)
            for _ in range(repeats):  # alternating, like the other benches
                for name, args in commands.items():
                    took, _ = openstack(cloud, *args)
                    times[name].append(took)
        finally:
            cloud.stop()
    table, stats = results_mod.comparison_table(
        "%d servers, wall time" % servers, "s", times,
        ratio="ours/reference")
    table += ("\n\n| command | API requests | by service |\n|---|---|---|\n"
              + "\n".join("| %s | %d | %s |" % (
                  name, sum(counts.values()), ", ".join(
                      "%s %d" % item for item in sorted(counts.items())))
                  for name, counts in requests.items()))
    print(table)
    results_mod.write("cli-status", table, {
        "servers": servers, "raw": times, "summary": stats,
        "requests": requests})
    return table


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
