"""Debian packages for the lab and the local cloud: which are missing, and
installing them (as root, with apt-get)."""
import contextlib
import os
import re
import subprocess
from pathlib import Path

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def missing_packages(packages):
    missing = []
    for package in packages:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True, text=True)
        if "install ok installed" not in result.stdout:
            missing.append(package)
    return missing


@contextlib.contextmanager
def _services_left_alone():
    """A package that ships a service starts it where an init system runs;
    a policy-rc.d of our own (when there is none) keeps the machine's
    services as they were: ours are started by hand."""
    own = not POLICY_RC_D.exists()
    if own:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        if own:
            POLICY_RC_D.unlink(missing_ok=True)


def install(packages, log=print, start_services=True):
    """apt-get install whichever of ``packages`` are missing."""
    missing = missing_packages(packages)
    if not missing:
        return
    log("installing %s" % " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with (contextlib.nullcontext() if start_services
          else _services_left_alone()):
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q",
                        "--no-install-recommends"] + missing, check=True,
                       env=env, stdout=subprocess.DEVNULL)


def debian_mirror():
    """The host's Debian mirror (the URI of its main archive), from
    /etc/apt/sources.list and sources.list.d (one-line and deb822)."""
    texts = []
    for path in [Path("/etc/apt/sources.list"),
                 *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if path.is_file():
            texts.append(path.read_text())
    return mirror_of("\n".join(texts))


def mirror_of(text):
    """The first URI of a Debian archive (not -security, not a third
    party's) in sources text, or None."""
    uris = re.findall(r"^\s*URIs:\s*(\S+)", text, re.M | re.I)
    uris += re.findall(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M)
    for uri in uris:
        if re.search(r"/debian/?$", uri):
            return uri.rstrip("/")
    return None


def codename():
    """The host's Debian release (bookworm), from /etc/os-release."""
    found = re.search(r"^VERSION_CODENAME=(\S+)",
                      Path("/etc/os-release").read_text(), re.M)
    return found and found.group(1).strip('"')
