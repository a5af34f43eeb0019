#!/usr/bin/env bash
# One entry point for a fresh Debian machine with only python3:
#   ./dev.sh demo   set everything up and run the demo on a local cloud
#   ./dev.sh test   set everything up and run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: venv for the virtualenvs; a compiler, Python headers and
# libvirt's headers to build libvirt-python (PyPI ships it as source only).
DEBIAN_PACKAGES="python3-venv python3-dev gcc pkg-config libvirt-dev git"

have_system_packages() {
    python3 -c 'import ensurepip, venv, sysconfig, os, sys;
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null \
        && command -v gcc >/dev/null && pkg-config --exists libvirt 2>/dev/null
}

ensure_system_packages() {
    have_system_packages && return
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing system packages: run 'sudo apt-get install $DEBIAN_PACKAGES'" >&2
        exit 1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $DEBIAN_PACKAGES
}

bootstrap() {
    ensure_system_packages
    if [ ! -x .venv/bin/tox ]; then
        python3 -m venv .venv
        .venv/bin/pip install -q --disable-pip-version-check tox
    fi
}

case "${1:-}" in
    demo) bootstrap; exec .venv/bin/tox -q -e demo ;;
    test) bootstrap; exec .venv/bin/tox -e pep8,py3,ops,docs,functional,lab ;;
    *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
