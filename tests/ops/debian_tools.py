"""The Debian tools the ops tests run, found or installed.

``systemd-analyze`` comes with Debian's ``systemd`` package: installed with
apt when missing (as root).  ``promtool`` comes with Debian's
``prometheus`` package, which also brings the Prometheus server, its
service and 90 MB of web assets: so only the package file is downloaded
(``apt-get download``) and promtool alone is unpacked into the project's
cache (``.cache/promtool/``, or ``$INSTANCEHA_CACHE``).  When a tool cannot
be had, ``Unavailable`` says why; the tests turn that into a skip that
names the reason.
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

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
