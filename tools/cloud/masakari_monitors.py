"""masakari-monitors 22.0.0 from PyPI, in a virtualenv of its own under
the cache: the peer the bench runs side by side, and the source of the
``masakarimonitors.conf`` its own config generator writes (the file an
operator moves over from)."""
import subprocess
import sys

from tools.cloud import peers

VERSION = "22.0.0"
PACKAGES = ["masakari-monitors==%s" % VERSION, "libvirt-python"]
# the namespaces of masakari-monitors' config generator
# (etc/masakarimonitors/masakarimonitors-config-generator.conf)
NAMESPACES = ("masakarimonitors.conf", "oslo.log")


def ensure_venv(log=print):
    venv = peers.cache_dir() / "masakari-monitors-venv"
    marker = venv / ".done"
    if not marker.exists():
        log("installing masakari-monitors %s in %s" % (VERSION, venv))
        subprocess.run([sys.executable, "-m", "venv", str(venv)],
                       check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                        "--disable-pip-version-check"] + PACKAGES,
                       check=True)
        marker.write_text("ok")
    return venv


def generate_sample(path, venv=None):
    """Write masakarimonitors.conf.sample as masakari-monitors' own
    oslo-config-generator does; returns ``path``."""
    venv = venv or ensure_venv()
    command = [str(venv / "bin" / "oslo-config-generator"),
               "--output-file", str(path)]
    for namespace in NAMESPACES:
        command += ["--namespace", namespace]
    subprocess.run(command, check=True, capture_output=True)
    return path
