#!/usr/bin/env bash
# One entry point for a fresh Debian machine with only python3:
#   ./dev.sh demo   set everything up and run the demo on a local cloud
#   ./dev.sh test   set everything up and run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

ensure_python() {
    if python3 -c 'import ensurepip, venv' 2>/dev/null; then
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "python3-venv is missing: run 'sudo apt-get install python3-venv'" >&2
        exit 1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv git
}

bootstrap() {
    ensure_python
    if [ ! -x .venv/bin/tox ]; then
        python3 -m venv .venv
        .venv/bin/pip install -q --disable-pip-version-check tox
    fi
}

case "${1:-}" in
    demo) bootstrap; exec .venv/bin/tox -q -e demo ;;
    test) bootstrap; exec .venv/bin/tox -e pep8,py3,functional ;;
    *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
