"""The README's demo: instance HA on a local cloud, end to end.

Starts real Keystone, Glance and Masakari plus the Nova emulator on
127.0.0.1, creates a failover segment, images and servers, and runs the real
``openstack instanceha`` commands an operator would, printing each one.
Everything is stopped and removed at the end.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.cloud import peers
from tools.cloud import seed as seed_mod

OPENSTACK = str(Path(sys.executable).with_name("openstack"))


def run(clouds_yaml, *args, os_cloud="admin"):
    print("\n$ openstack --os-cloud %s %s" % (os_cloud, " ".join(args)),
          flush=True)
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(clouds_yaml))
    subprocess.run([OPENSTACK, "--os-cloud", os_cloud, *args], env=env)


def main():
    with tempfile.TemporaryDirectory(prefix="instanceha-demo-") as workdir:
        cloud = peers.LocalCloud(workdir)
        cloud.start()
        try:
            seed = seed_mod.Seeder(cloud)
            seed.segment_with_host("compute-1")
            seed.compute_service("compute-2")
            shared = seed.image({"os_distro": "debian"})
            web = seed.server(shared.id, name="web-1", host="compute-1")
            seed.server(shared.id, name="db-1", host="compute-1")
            seed.server(shared.id, name="batch-1", host="compute-2",
                        metadata={"HA_Enabled": "True"})
            yaml = cloud.clouds_yaml
            print("\nA failover segment holds compute-1; compute-2 is in "
                  "none. Nothing is protected yet:")
            run(yaml, "instanceha", "status")
            run(yaml, "instanceha", "enable", "--dry-run", "web-1", "db-1")
            run(yaml, "instanceha", "enable", "web-1", "db-1", "nosuch-1")
            run(yaml, "image", "show", shared.id, "-c", "properties")
            run(yaml, "instanceha", "status", "--long")
            run(yaml, "instanceha", "disable", "db-1")
            run(yaml, "instanceha", "status", web["id"], "-f", "json")
            print("\nA project member may not change the admin's image and "
                  "cannot see Masakari:")
            other = seed.image({"os_distro": "ubuntu"})
            mine = seed.server(other.id, name="app-1", project="demo")
            run(yaml, "instanceha", "enable", mine["name"], os_cloud="demo")
            run(yaml, "instanceha", "enable", "--no-image", mine["name"],
                os_cloud="demo")
            run(yaml, "instanceha", "status", os_cloud="demo")
        finally:
            cloud.stop()
    print("\ndemo finished; the local cloud is stopped and removed")


if __name__ == "__main__":
    main()
