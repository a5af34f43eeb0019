"""Serve an OpenStack API under gunicorn with argv hidden from oslo.config.

Usage: python wsgi_service.py keystone|glance|nova|placement HOST:PORT
The services' WSGI modules parse ``sys.argv`` through oslo.config (nova-api
hands the process's whole argv to it), which would choke on gunicorn's own
arguments, so the app is imported with a clean argv.  Each service finds its
configuration through its own environment variables (OS_KEYSTONE_CONFIG_FILES,
OS_GLANCE_CONFIG_DIR, OS_NOVA_CONFIG_DIR, OS_PLACEMENT_CONFIG_DIR).
"""
import sys

from gunicorn.app.base import BaseApplication

APPS = {
    "keystone": "keystone.wsgi.api",
    "glance": "glance.wsgi.api",
    "nova": "nova.wsgi.osapi_compute",
    "placement": "placement.wsgi.api",
}
# gunicorn closes an idle connection after 2 s by default; a client that
# reuses a pooled connection at that moment gets a reset.  Longer than the
# clients' idle times (keystoneauth, requests) avoids the race.
KEEPALIVE_SECONDS = 75


class _App(BaseApplication):
    def __init__(self, module, bind):
        self._module = module
        self._bind = bind
        super().__init__()

    def load_config(self):
        self.cfg.set("bind", self._bind)
        self.cfg.set("workers", 1)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", 8)
        self.cfg.set("timeout", 120)
        self.cfg.set("keepalive", KEEPALIVE_SECONDS)
        self.cfg.set("accesslog", "-")
        # Otherwise every gunicorn here binds the same control socket in
        # $HOME/.gunicorn, and the first one to stop removes it.
        self.cfg.set("control_socket_disable", True)

    def load(self):
        saved, sys.argv = sys.argv, [sys.argv[0]]
        try:
            module = __import__(self._module, fromlist=["application"])
        finally:
            sys.argv = saved
        return module.application


def main():
    name, bind = sys.argv[1], sys.argv[2]
    _App(APPS[name], bind).run()


if __name__ == "__main__":
    main()
