"""The control socket's client side, standard library only: the
``openstack instanceha monitor`` commands use it without the monitor's
runtime installed."""
import http.client
import json
import socket

SOCKET = "control.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def post(path, url_path, timeout=10, method="POST"):
    """(HTTP status, JSON answer) of a request on the control socket."""
    connection = _UnixConnection(path, timeout)
    try:
        connection.request(method, url_path)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


class Refused(PermissionError):
    """The monitor refused the peer (SO_PEERCRED)."""


def get_status(path, timeout=10):
    """The running monitor's status document.  PermissionError when the
    caller may not read it (the socket's directory, or the monitor's own
    check), OSError when no monitor answers."""
    code, answer = post(path, "/status", timeout, method="GET")
    if code == 403:
        raise Refused(answer.get("error", "refused"))
    if code != 200:
        raise OSError("the control socket answered HTTP %d" % code)
    return answer
