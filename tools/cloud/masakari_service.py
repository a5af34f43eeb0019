"""Run Masakari's API and engine in one process (peer for tests and the demo).

Runs inside the peers' virtualenv, never the project's.  The engine listens on
oslo.messaging's in-process ``fake://`` transport, so the API's casts reach it
without a broker.
"""
import sys

import masakari.cmd  # noqa: F401  eventlet monkey-patching must come first

from oslo_log import log as logging
from oslo_service import service as oslo_service

import masakari.conf
from masakari import config
from masakari import objects
from masakari import service

CONF = masakari.conf.CONF


def main():
    config.parse_args(sys.argv)
    logging.setup(CONF, "masakari")
    objects.register_all()
    launcher = oslo_service.ServiceLauncher(CONF)
    launcher.launch_service(service.WSGIService("masakari_api"))
    launcher.launch_service(service.Service.create(
        binary="masakari-engine", topic=CONF.masakari_topic))
    launcher.wait()


if __name__ == "__main__":
    main()
