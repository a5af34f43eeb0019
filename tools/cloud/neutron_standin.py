"""A Neutron stand-in for real Nova's servers booted with ``--nic none``.

Nova asks Neutron nothing to create or stop a server without networks
(microversion 2.37 ``networks='none'``), but it still lists that server's
ports on every single-server GET and ``/servers/detail``, and it lists ports
and networks (``shared=False`` and ``shared=True``) on start, hard reboot,
rebuild and delete.  Without a network endpoint those requests fail: a GET
answers 500, a start is reverted, a delete leaves the server in ERROR.

So this answers Neutron's read-only list calls with empty lists, and
nothing else: any other request gets a loud 404 (and a line on stderr), so
that a call Nova starts making shows up at once.  Every request is recorded
and can be read at ``GET /_standin/requests`` (cleared with ``DELETE``).

A real neutron-server would also do (it needs its own database, an ML2
configuration and 190 MiB more; it starts in 7-9 s): for servers without
ports, these empty answers are all Nova looks at.  Tokens are not checked.

Usage: python neutron_standin.py --port N
Runs with the standard library alone.
"""
import argparse
import json
import sys
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# GET /v2.0/<collection>: always empty.
EMPTY_COLLECTIONS = ("ports", "networks", "extensions", "security-groups")


class Requests:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, record):
        with self.lock:
            self.items.append(record)

    def all(self):
        with self.lock:
            return list(self.items)

    def clear(self):
        with self.lock:
            self.items.clear()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests = Requests()

    def log_message(self, fmt, *args):
        pass

    def _send(self, code, payload=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Openstack-Request-Id", "req-" + str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(parsed.query)
        if path == "/_standin/requests":
            if method == "DELETE":
                self.requests.clear()
                return self._send(204)
            return self._send(200, {"requests": self.requests.all()})
        record = {"method": method, "path": path, "query": query}
        code, payload = self._answer(method, path)
        record["status"] = code
        self.requests.add(record)
        if code == 404:
            sys.stderr.write("neutron stand-in: UNEXPECTED %s %s\n"
                             % (method, self.path))
            sys.stderr.flush()
        else:
            sys.stderr.write("neutron stand-in: %s %s -> %d\n"
                             % (method, self.path, code))
            sys.stderr.flush()
        self._send(code, payload)

    def _answer(self, method, path):
        host = self.headers.get("Host")
        if method == "GET" and path == "/":
            return 200, {"versions": [{
                "id": "v2.0", "status": "CURRENT",
                "links": [{"rel": "self",
                           "href": "http://%s/v2.0/" % host}]}]}
        if method == "GET" and path == "/v2.0":
            return 200, {"resources": [
                {"name": c.split("/")[-1][:-1], "collection": c,
                 "links": [{"rel": "self", "href": "http://%s/v2.0/%s"
                            % (host, c)}]} for c in EMPTY_COLLECTIONS]}
        if method == "GET" and path.startswith("/v2.0/"):
            collection = path[len("/v2.0/"):]
            if collection.endswith(".json"):
                collection = collection[:-len(".json")]
            if collection in EMPTY_COLLECTIONS:
                key = collection.split("/")[-1].replace("-", "_")
                return 200, {key: []}
        return 404, {"NeutronError": {
            "type": "HTTPNotFound", "detail": "",
            "message": "the Neutron stand-in does not serve %s %s"
                       % (method, path)}}

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
