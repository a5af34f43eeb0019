"""The Debian tools the ops tests run, found or installed.

``systemd-analyze`` comes with Debian's ``systemd`` package: installed with
apt when missing (as root).  ``promtool`` comes with Debian's
``prometheus`` package, which also brings the Prometheus server, its
service and 90 MB of web assets: so only the package file is downloaded
(``apt-get download``) and promtool alone is unpacked into the project's
cache (``.cache/promtool/``, or ``$INSTANCEHA_CACHE``).  When a tool cannot
be had, ``Unavailable`` says why; the tests turn that into a skip that
names the reason.

podman's ``quadlet`` generator came with podman 4.4; Debian 12 ships
podman 4.3, without it.  So when the host has none, the generator alone is
taken from the podman package of the Debian release that has one
(``QUADLET_SUITE``), from the host's own Debian mirror, with apt's lists in
a directory of their own (the host's apt configuration is left as it was),
and cached like promtool (``.cache/quadlet/``).
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tools.debian import debian_mirror
from tools.debian import mirror_of  # noqa: F401 (tested with the quadlet)

REPO = Path(__file__).resolve().parents[2]
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


class Unavailable(Exception):
    """A tool is missing and could not be installed; the message says
    why and what to do."""


def cache_dir():
    return Path(os.environ.get("INSTANCEHA_CACHE", REPO / ".cache"))


def _apt(*args, check=True):
    return subprocess.run(["apt-get", "-q", *args], env=APT_ENV,
                          check=check, capture_output=True, text=True,
                          timeout=600)


def _can_apt(tool, package):
    if not shutil.which("apt-get"):
        raise Unavailable("%s is not installed and this is not a Debian "
                          "system (install %s)" % (tool, package))
    if os.geteuid() != 0:
        raise Unavailable("%s is not installed and installing Debian's %s "
                          "package needs root: run 'apt-get install %s' "
                          "or the tests as root" % (tool, package, package))


def _has_candidate(package):
    result = subprocess.run(["apt-cache", "policy", package],
                            capture_output=True, text=True)
    return "Candidate:" in result.stdout and \
        "Candidate: (none)" not in result.stdout


def _apt_update_if_needed(package):
    if not _has_candidate(package):
        _apt("update")


def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if path:
        return path
    _can_apt("systemd-analyze", "systemd")
    try:
        _apt_update_if_needed("systemd")
        _apt("install", "-y", "--no-install-recommends", "systemd")
    except subprocess.CalledProcessError as exc:
        raise Unavailable("apt-get could not install systemd: %s"
                          % (exc.stderr or exc).strip()) from exc
    path = shutil.which("systemd-analyze")
    if not path:
        raise Unavailable("systemd is installed but has no systemd-analyze")
    return path


def promtool():
    path = shutil.which("promtool")
    if path:
        return path
    cached = cache_dir() / "promtool" / "usr" / "bin" / "promtool"
    if cached.exists():
        return str(cached)
    _can_apt("promtool", "prometheus")
    try:
        _apt_update_if_needed("prometheus")
        with tempfile.TemporaryDirectory() as work:
            subprocess.run(["apt-get", "-q", "-o", "APT::Sandbox::User=root",
                            "download", "prometheus"], cwd=work,
                           env=APT_ENV, check=True, capture_output=True,
                           text=True, timeout=600)
            deb, = Path(work).glob("prometheus_*.deb")
            unpacked = Path(work) / "root"
            unpacked.mkdir()
            subprocess.run("dpkg-deb --fsys-tarfile '%s' | tar -x -C '%s' "
                           "./usr/bin/promtool" % (deb, unpacked),
                           shell=True, check=True, capture_output=True,
                           text=True)
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(unpacked / "usr/bin/promtool"), cached)
    except (subprocess.CalledProcessError, ValueError) as exc:
        raise Unavailable("could not get promtool from Debian's prometheus "
                          "package: %s" % (getattr(exc, "stderr", None) or
                                           exc)) from exc
    return str(cached)


QUADLET = "/usr/libexec/podman/quadlet"
# The first Debian release whose podman (5.4) has quadlet; its generator is
# a Go program that needs only the C library.
QUADLET_SUITE = "trixie"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def quadlet():
    if os.path.exists(QUADLET):
        return QUADLET
    cached = cache_dir() / "quadlet" / "quadlet"
    if cached.exists():
        return str(cached)
    _can_apt("quadlet", "podman (>= 4.4)")
    mirror = debian_mirror()
    if not mirror:
        raise Unavailable("no Debian mirror in /etc/apt/sources.list*: "
                          "install podman >= 4.4 for its quadlet")
    try:
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            (work / "lists" / "partial").mkdir(parents=True)
            (work / "sources.list").write_text(
                "deb [signed-by=%s] %s %s main\n" % (KEYRING, mirror,
                                                     QUADLET_SUITE))
            options = [
                "-o", "Dir::Etc::SourceList=%s" % (work / "sources.list"),
                "-o", "Dir::Etc::SourceParts=/dev/null",
                "-o", "Dir::State::Lists=%s" % (work / "lists"),
                "-o", "Dir::Cache=%s" % (work / "cache"),
                "-o", "APT::Sandbox::User=root"]
            for args in (["update"], ["download", "podman"]):
                subprocess.run(["apt-get", "-q", *options, *args], cwd=work,
                               env=APT_ENV, check=True, capture_output=True,
                               text=True, timeout=600)
            deb, = work.glob("podman_*.deb")
            unpacked = work / "root"
            unpacked.mkdir()
            subprocess.run("dpkg-deb --fsys-tarfile '%s' | tar -x -C '%s' "
                           ".%s" % (deb, unpacked, QUADLET), shell=True,
                           check=True, capture_output=True, text=True)
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(unpacked / QUADLET.lstrip("/")), cached)
    except (subprocess.CalledProcessError, ValueError) as exc:
        raise Unavailable("could not get quadlet from Debian %s's podman "
                          "package: %s" % (QUADLET_SUITE, (
                              getattr(exc, "stderr", None) or exc))) from exc
    return str(cached)
