"""Serve Keystone or Glance under gunicorn with argv hidden from oslo.config.

Usage: python wsgi_service.py keystone|glance HOST:PORT
The services' WSGI modules parse ``sys.argv`` through oslo.config, which would
choke on gunicorn's own arguments, so the app is imported with a clean argv.
"""
import sys

from gunicorn.app.base import BaseApplication

APPS = {
    "keystone": "keystone.wsgi.api",
    "glance": "glance.wsgi.api",
}


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
        self.cfg.set("accesslog", "-")

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
