"""The monitor's image, built from Debian packages and the project's own
wheel: a base image made with debootstrap from the host's Debian mirror
(``podman import``; cached as a tarball under the project's cache, so
later builds skip it), then the ``Containerfile`` with podman.

Everything needs root and Debian's podman and debootstrap packages
(installed when missing); ``can_build()`` says why not, for a loud skip.
"""
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools import debian

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ["podman", "runc", "debootstrap", "zstd"]
TAG = "localhost/instanceha-monitor:test"
# What the Containerfile copies from the source tree.
CONTEXT_FILES = ["Containerfile", "etc/container-constraints.txt",
                 "etc/instanceha-monitor.conf.sample"]
# pip's settings that say where packages come from: passed to the build
# (the Containerfile's ARGs of the same names).
PIP_SETTINGS = ("index-url", "extra-index-url", "find-links",
                "trusted-host", "cert")


def cache_dir():
    return Path(os.environ.get("INSTANCEHA_CACHE", REPO / ".cache"))


def can_build():
    """(True, "") or (False, why the image cannot be built here)."""
    if sys.platform != "linux":
        return False, "building the image needs Linux"
    if os.geteuid() != 0:
        return False, "building the image needs root (debootstrap, podman)"
    if not shutil.which("apt-get") and not shutil.which("podman"):
        return False, "podman is missing and apt-get is not available"
    return True, ""


class Failed(RuntimeError):
    """A command of the build failed; the message ends with its output."""


def run(argv, log=None, **kwargs):
    argv = [str(arg) for arg in argv]
    if log:
        log("$ " + " ".join(shlex.quote(arg) for arg in argv))
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode:
        tail = (result.stdout + result.stderr).strip().splitlines()[-25:]
        raise Failed("%s exited %d:\n%s" % (argv[0], result.returncode,
                                             "\n".join(tail)))
    return result


def pip_settings(config_list):
    """{setting: value} of ``pip config list`` output (lines such as
    ``global.index-url='https://...'`` or ``:env:.find-links='...'``), the
    settings of PIP_SETTINGS only; the environment's win."""
    found = {}
    for line in sorted(config_list.splitlines(),
                       key=lambda line: line.startswith(":env:")):
        key, _, value = line.partition("=")
        name = key.rpartition(".")[2]
        if name in PIP_SETTINGS and value:
            found[name] = shlex.split(value)[0] if value[0] in "'\"" \
                else value
    return found


# Where the host's CA bundle for pip is mounted in the build: not its own
# path, which the image's ca-certificates package writes.
BUILD_CERT = "/run/host-pip-cert.pem"


def build_options(settings, exists=os.path.exists):
    """podman build options that give the build this machine's pip
    settings: --build-arg PIP_X=... for each, and a read-only volume for
    every local directory or file they name (a wheel directory, a file://
    index at the same path; a CA bundle at BUILD_CERT)."""
    options, mounted = [], set()
    settings = dict(settings)
    cert = settings.pop("cert", None)
    if cert and exists(cert):
        options += ["--build-arg", "PIP_CERT=" + BUILD_CERT,
                    "--volume", "%s:%s:ro" % (cert, BUILD_CERT)]
    for name, value in sorted(settings.items()):
        options += ["--build-arg", "PIP_%s=%s" % (
            name.upper().replace("-", "_"), value)]
        for part in value.split():
            path = part[len("file://"):] if part.startswith("file://") \
                else part
            if name.endswith("index-url") and path.rstrip("/").endswith(
                    "/simple"):
                # a local index links its files beside itself (../files)
                path = os.path.dirname(path.rstrip("/"))
            if path.startswith("/") and exists(path) and path not in mounted:
                mounted.add(path)
                options += ["--volume", "%s:%s:ro" % (path, path)]
    return options


def runtime_candidates(nofile_hard):
    """podman's own defaults first; then runc with the open-file and
    process limits lowered, for machines where containers may not raise
    them (no CAP_SYS_RESOURCE: podman's defaults are above the host's
    limits) or where crun refuses a mix of cgroup v1 and v2."""
    limits = ["--ulimit", "nofile=%d:%d" % (nofile_hard, nofile_hard),
              "--ulimit", "nproc=4096:4096"]
    return [([], []), (["--runtime", "runc"], limits)]


def podman_options(base, log=print):
    """(global options, run and build options) with which a container of
    ``base`` runs on this machine; RuntimeError with podman's last answer
    when none does."""
    why = None
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    for global_options, options in runtime_candidates(nofile):
        result = subprocess.run(
            ["podman", *global_options, "run", "--rm", "--network", "host",
             *options, base, "true"], capture_output=True, text=True,
            timeout=120)
        if result.returncode == 0:
            if global_options:
                log("containers run here with podman %s" % " ".join(
                    global_options + options))
            return global_options, options
        why = (result.stderr.strip().splitlines() or ["exit %d" % (
            result.returncode)])[-1]
    raise RuntimeError("podman cannot run a container here: %s" % why)


def machine_pip_settings():
    result = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True)
    return pip_settings(result.stdout)


def base_image(log=print):
    """The name of a base image of the host's Debian release, imported
    from the cached debootstrap tarball (made when missing)."""
    suite = debian.codename() or "bookworm"
    name = "localhost/instanceha-base:%s" % suite
    if not subprocess.run(["podman", "image", "exists", name]).returncode:
        return name
    tarball = cache_dir() / "container" / ("base-%s.tar.zst" % suite)
    if not tarball.exists():
        mirror = debian.debian_mirror()
        if not mirror:
            raise RuntimeError("no Debian mirror in /etc/apt/sources.list*")
        log("debootstrap %s from %s (once; cached in %s)" % (
            suite, mirror, tarball))
        with tempfile.TemporaryDirectory() as work:
            root = Path(work) / "root"
            run(["debootstrap", "--variant=minbase", suite, root, mirror],
                timeout=1200)
            for leftover in list((root / "var/cache/apt/archives").glob(
                    "*.deb")) + list((root / "var/lib/apt/lists").glob("*_*")):
                leftover.unlink()
            tarball.parent.mkdir(parents=True, exist_ok=True)
            partial = tarball.with_suffix(".partial")
            run(["sh", "-c", "tar -C \"$1\" --numeric-owner -cf - . | "
                 "zstd -q -T0 -3 -o \"$2\"", "sh", root, partial])
            partial.rename(tarball)
    run(["sh", "-c", "zstd -dc \"$1\" | podman import - \"$2\"", "sh",
         tarball, name], log=log)
    return name


def context(work):
    """The build context: the files the Containerfile copies, and the
    project's wheel in dist/ (pbr takes the version from git here)."""
    work = Path(work)
    for name in CONTEXT_FILES:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, work / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
         work / "dist", REPO], timeout=300)
    return work


def build(tag=TAG, log=print):
    """Build the image: {"seconds", "base_seconds", "size_bytes",
    "podman": the options containers run with here (for podman run)}."""
    debian.install(PACKAGES, log, start_services=False)
    started = time.monotonic()
    base = base_image(log)
    based = time.monotonic()
    global_options, options = podman_options(base, log)
    with tempfile.TemporaryDirectory() as work:
        run(["podman", *global_options, "build", *options, "--format",
             "docker", "--network", "host", "--build-arg", "BASE=" + base,
             *build_options(machine_pip_settings()),
             "-t", tag, "-f", "Containerfile", context(work)],
            log=log, timeout=1800)
    size = run(["podman", "image", "inspect", "--format", "{{.Size}}",
                tag]).stdout.strip()
    return {"seconds": time.monotonic() - based,
            "base_seconds": based - started, "size_bytes": int(size),
            "podman": (global_options, options)}


if __name__ == "__main__":
    figures = build()
    print("image %s: %.0f MB, built in %.0f s (base image %.0f s)" % (
        TAG, figures["size_bytes"] / 1e6, figures["seconds"],
        figures["base_seconds"]))
