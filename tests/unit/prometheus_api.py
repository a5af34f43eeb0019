"""A stand-in for Prometheus' query API, for the unit tier: it answers
``/api/v1/query`` with the vectors a test gives, in Prometheus' own JSON
shape, and records what was asked and with which headers.  The functional
tier runs the real Prometheus (tests/functional/test_fleet.py)."""
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from osc_instanceha import fleet


def sample(name, host, value, ts=0.0, **labels):
    return {"metric": dict(labels, __name__=name, host=host,
                           instance="10.0.0.1:9781", job="instanceha"),
            "value": [ts, str(value)]}


def healthy(host, now, **changes):
    """The samples of a monitor that runs well on ``host``."""
    values = {"instanceha_build_info": 1, "instanceha_libvirt_connected": 1,
              "instanceha_outbox_depth": 0, "instanceha_outbox_overdue": 0,
              "instanceha_store_writable": 1,
              "instanceha_scrape_timestamp_seconds": now - 5}
    values.update(changes)
    out = []
    for name, value in values.items():
        labels = {"version": "1.0"} if name.endswith("build_info") else {}
        out.append(sample(name, host, value, now, **labels))
    out.append(sample("instanceha_domains", host, 2, now, detection="agent"))
    return out


class PrometheusAPI:
    def __init__(self):
        self.current, self.seen = [], []
        self.requests = []
        self.status = 200
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query).get("query", [""])[0]
                api.requests.append((url.path, query, dict(self.headers)))
                if api.status != 200:
                    body = {"status": "error", "error": "nope"}
                elif query == fleet.NOW_QUERY:
                    body = {"status": "success", "data": {
                        "resultType": "vector", "result": api.current}}
                elif query.startswith("max by (host)"):
                    body = {"status": "success", "data": {
                        "resultType": "vector", "result": api.seen}}
                else:
                    body = {"status": "error", "error": "bad query"}
                data = json.dumps(body).encode()
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
