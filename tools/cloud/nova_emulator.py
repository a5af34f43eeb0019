"""A stateful stand-in for Nova's compute API and Cinder's volume API.

It serves the part of both APIs that openstacksdk, OpenStackClient and
Masakari's engine use: servers with metadata, image and boot-volume
references, compute services, server actions (stop/start/reboot/rebuild)
and volume image metadata.  Tokens are checked against Keystone when
``--keystone`` is given (project scoping, the admin role and the admin-only
listing of all projects' servers behave as in Nova); without it every
caller is an admin.

Real Nova runs in the local cloud too (``LocalCloud(nova="real")``,
tools/cloud/real_nova.py); the tests of what Nova itself does run there
(tests/functional/test_real_nova.py).  The emulator stays where real Nova
cannot serve a fast test:

- many servers at once: the status tests and bench with hundreds to 1,000
  servers, seeded in one request each (real Nova boots them one by one, and
  its default quota allows 10);
- many compute hosts: each test names its own hosts and segments, so that
  tests sharing one cloud do not interfere (real Nova here has one);
- servers without guests in any state a test names (``vm_state`` error or
  paused, a ``task_state`` in progress, an old ``launched_at``), which real
  Nova reaches only through real operations, briefly, or not at all;
- boot volumes with image metadata: there is no Cinder in the local cloud;
- the lab's guests booted by the lab itself (``--libvirt``), until the lab
  runs on real Nova with the libvirt driver;
- counting the API calls a command makes (``/_emulator/requests``).

Test-only routes under ``/_emulator`` seed servers and services and expose the
request log, so that tests can count the API calls a command makes.

With ``--libvirt URI`` server actions act on the real domain whose UUID is the
server's id (the lab's guests): stop destroys it, start boots it, a reboot
does both, as Nova's libvirt driver would.

Usage: python nova_emulator.py --port N [--keystone URL] [--libvirt URI]
Runs with the standard library alone (libvirt-python for --libvirt).
"""
import argparse
import datetime
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_LIMIT = 1000  # Nova's default [api] max_limit
# The emulator's default; a test raises it to 2.98 (PUT
# /_emulator/max_microversion), from which Nova shows the image properties
# an instance was built with in ``image.properties`` (the standard image
# properties Nova copied into the instance's system metadata at build).
COMPUTE_MAX_MICROVERSION = "2.96"
EMBEDDED_IMAGE_PROPERTIES = (2, 98)
VOLUME_MAX_MICROVERSION = "3.70"


def _version(text):
    """"2.98" -> (2, 98); HTTPError 400 when it is not a version."""
    try:
        major, minor = str(text).strip().split(".")
        return int(major), int(minor)
    except ValueError:
        raise HTTPError(400, "Invalid API version %r" % text) from None


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class HTTPError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Caller:
    def __init__(self, project_id, user_id, is_admin):
        self.project_id = project_id
        self.user_id = user_id
        self.is_admin = is_admin


class TokenValidator:
    """Resolves X-Auth-Token through Keystone, caching each token."""

    def __init__(self, keystone_url=None):
        self.keystone_url = keystone_url.rstrip("/") if keystone_url else None
        self._cache = {}
        self._lock = threading.Lock()

    def caller(self, token):
        if self.keystone_url is None:
            return Caller("admin", "admin", True)
        if not token:
            raise HTTPError(401, "Authentication required")
        with self._lock:
            if token in self._cache:
                return self._cache[token]
        request = urllib.request.Request(
            self.keystone_url + "/v3/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = json.load(response)["token"]
        except urllib.error.HTTPError:
            raise HTTPError(401, "The request you have made requires "
                                 "authentication.") from None
        roles = {role["name"] for role in body.get("roles", [])}
        project = body.get("project", {}).get("id")
        caller = Caller(project, body["user"]["id"], "admin" in roles)
        with self._lock:
            self._cache[token] = caller
        return caller


class Hypervisor:
    """Server power actions on real libvirt domains (the lab)."""

    def __init__(self, uri):
        import libvirt

        self.libvirt = libvirt
        libvirt.registerErrorHandler(lambda _c, _e: None, None)
        self.uri = uri

    def _domain(self, server_id):
        conn = self.libvirt.open(self.uri)
        try:
            return conn, conn.lookupByUUIDString(server_id)
        except self.libvirt.libvirtError:
            conn.close()
            return None, None

    def power_off(self, server_id):
        """As Nova's libvirt driver: a domain that stopped meanwhile (the
        host monitor's fence ended it between the check and the destroy)
        is off, not an error."""
        conn, dom = self._domain(server_id)
        if dom is None:
            return
        try:
            if dom.isActive():
                try:
                    dom.destroy()
                except self.libvirt.libvirtError:
                    if dom.isActive():
                        raise
        finally:
            conn.close()

    def power_on(self, server_id):
        conn, dom = self._domain(server_id)
        if dom is None:
            return
        try:
            if not dom.isActive():
                dom.create()
        finally:
            conn.close()


class Cloud:
    """The emulated state, guarded by one lock."""

    def __init__(self, hypervisor=None):
        self.hypervisor = hypervisor
        self.lock = threading.Lock()
        self.servers = {}
        self.volumes = {}
        self.services = {}
        self.requests = []
        self.max_microversion = COMPUTE_MAX_MICROVERSION

    # -- seeding -------------------------------------------------------
    def add_service(self, host, status="enabled", state="up"):
        service_id = str(uuid.uuid4())
        self.services[host] = {
            "id": service_id, "binary": "nova-compute", "host": host,
            "zone": "nova", "status": status, "state": state,
            "updated_at": _now(), "disabled_reason": None,
            "forced_down": False}
        return self.services[host]

    def add_server(self, spec):
        server_id = spec.get("id") or str(uuid.uuid4())
        project_id = spec.get("project_id", "admin")
        volumes = []
        boot_volume = spec.get("boot_volume")
        if boot_volume is not None:
            volume_id = boot_volume.get("id") or str(uuid.uuid4())
            self.volumes[volume_id] = {
                "id": volume_id, "name": boot_volume.get("name", ""),
                "status": "in-use", "bootable": "true", "size": 1,
                "project_id": project_id,
                "volume_image_metadata": dict(
                    boot_volume.get("image_metadata", {})),
                "attachments": [{"server_id": server_id,
                                 "device": "/dev/vda",
                                 "attachment_id": str(uuid.uuid4()),
                                 "volume_id": volume_id}],
                # Cinder moves updated_at on attach and status changes,
                # not when image metadata is set (as here).
                "metadata": {}, "created_at": _now(), "updated_at": _now()}
            volumes.append(volume_id)
        index = len(self.servers) + 1
        self.servers[server_id] = {
            "id": server_id,
            "name": spec.get("name", "server-%d" % index),
            "project_id": project_id,
            "user_id": spec.get("user_id", "admin"),
            "image_id": None if boot_volume is not None else spec["image_id"],
            "volumes": volumes,
            "host": spec.get("host", "compute-1"),
            "instance_name": "instance-%08x" % index,
            "metadata": dict(spec.get("metadata", {})),
            "vm_state": spec.get("vm_state", "active"),
            "task_state": spec.get("task_state"),
            "actions": [],  # what was asked of it, for the tests
            "power_state": 1,
            "created": _now(),
            "updated": _now(),
            "launched_at": spec.get("launched_at", _now()),
            # what Nova copied from the image at build (seed.py passes the
            # Glance image's hw_qemu_guest_agent)
            "image_properties": dict(spec.get("image_properties", {})),
        }
        return self.servers[server_id]

    # -- views ---------------------------------------------------------
    def server_view(self, server, caller, version=(2, 1)):
        status = {"active": "ACTIVE", "stopped": "SHUTOFF",
                  "error": "ERROR", "paused": "PAUSED"}[server["vm_state"]]
        image = ""
        if server["image_id"]:  # boot from volume: "" as in Nova
            image = {"id": server["image_id"], "links": []}
            if version >= EMBEDDED_IMAGE_PROPERTIES:
                image["properties"] = dict(server["image_properties"])
        view = {
            "id": server["id"], "name": server["name"], "status": status,
            "tenant_id": server["project_id"], "user_id": server["user_id"],
            "metadata": dict(server["metadata"]),
            "image": image,
            "flavor": {"original_name": "m1.tiny", "vcpus": 1, "ram": 128,
                       "disk": 1, "ephemeral": 0, "swap": 0,
                       "extra_specs": {}},
            "addresses": {}, "links": [], "key_name": None,
            "created": server["created"], "updated": server["updated"],
            "hostId": "", "locked": server.get("locked", False),
            "tags": [],
            "description": None, "config_drive": "", "progress": 0,
            "OS-DCF:diskConfig": "MANUAL",
            "OS-EXT-AZ:availability_zone": "nova",
            "OS-EXT-STS:vm_state": server["vm_state"],
            "OS-EXT-STS:task_state": server["task_state"],
            "OS-EXT-STS:power_state": server["power_state"],
            "OS-SRV-USG:launched_at": server["launched_at"],
            "OS-SRV-USG:terminated_at": None,
            "os-extended-volumes:volumes_attached": [
                {"id": v, "delete_on_termination": False}
                for v in server["volumes"]],
            "security_groups": [],
        }
        if caller.is_admin:
            view.update({
                "OS-EXT-SRV-ATTR:host": server["host"],
                "OS-EXT-SRV-ATTR:hypervisor_hostname": server["host"],
                "OS-EXT-SRV-ATTR:instance_name": server["instance_name"],
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
            })
        return view

    def visible(self, server, caller):
        return caller.is_admin or server["project_id"] == caller.project_id

    def get_server(self, server_id, caller):
        server = self.servers.get(server_id)
        if server is None or not self.visible(server, caller):
            raise HTTPError(404, "Instance %s could not be found."
                            % server_id)
        return server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cloud = None
    validator = None

    def log_message(self, fmt, *args):  # the request log replaces it
        pass

    # -- plumbing ------------------------------------------------------
    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        try:
            return json.loads(self.rfile.read(length))
        except ValueError:
            raise HTTPError(400, "Malformed request body") from None

    def _send(self, code, payload=None, headers=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Openstack-Request-Id",
                         "req-" + str(uuid.uuid4()))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method):
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        path = parsed.path.rstrip("/") or "/"
        if not path.startswith("/_emulator"):
            with self.cloud.lock:
                self.cloud.requests.append(
                    {"method": method, "path": path, "query": query})
        try:
            for pattern, route_method, handler in ROUTES:
                match = re.fullmatch(pattern, path)
                if match and route_method == method:
                    result = handler(self, match, query)
                    break
            else:
                raise HTTPError(404, "No route for %s %s" % (method, path))
        except HTTPError as exc:
            key = {400: "badRequest", 401: "unauthorized", 403: "forbidden",
                   404: "itemNotFound", 409: "conflictingRequest"}.get(
                       exc.code, "computeFault")
            self._send(exc.code, {key: {"code": exc.code,
                                        "message": exc.message}})
            return
        code, payload = result if isinstance(result, tuple) else (200, result)
        self._send(code, payload)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def caller(self):
        return self.validator.caller(self.headers.get("X-Auth-Token"))

    def microversion(self):
        """The compute microversion asked for (Nova's headers), refused
        with 406 beyond the emulator's maximum as Nova does."""
        text = self.headers.get("X-OpenStack-Nova-API-Version")
        header = self.headers.get("OpenStack-API-Version", "")
        if header.startswith("compute "):
            text = header.split(None, 1)[1]
        if not text:
            return (2, 1)
        maximum = _version(self.cloud.max_microversion)
        if text.strip() == "latest":
            return maximum
        asked = _version(text)
        if asked > maximum:
            raise HTTPError(406, "Version %s is not supported by the API. "
                            "Minimum is 2.1 and maximum is %s." % (
                                text, self.cloud.max_microversion))
        return asked

    # -- version documents --------------------------------------------
    def compute_versions(self, match, query):
        return {"versions": [self._compute_version()]}

    def compute_version(self, match, query):
        return {"version": self._compute_version()}

    def _compute_version(self):
        base = "http://%s/compute/v2.1/" % self.headers.get("Host")
        return {"id": "v2.1", "status": "CURRENT",
                "version": self.cloud.max_microversion,
                "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": base}]}

    def volume_versions(self, match, query):
        return {"versions": [self._volume_version()]}

    def volume_version(self, match, query):
        return {"version": self._volume_version()}

    def _volume_version(self):
        base = "http://%s/volume/v3/" % self.headers.get("Host")
        return {"id": "v3.0", "status": "CURRENT",
                "version": VOLUME_MAX_MICROVERSION, "min_version": "3.0",
                "updated": "2023-01-01T00:00:00Z",
                "links": [{"rel": "self", "href": base}]}

    # -- compute -------------------------------------------------------
    def list_servers(self, match, query):
        caller = self.caller()
        detail = match.group("detail") is not None
        all_projects = query.get("all_tenants", "").lower() in (
            "1", "true", "yes", "")
        all_projects = "all_tenants" in query and all_projects
        if all_projects and not caller.is_admin:  # as Nova's default policy
            raise HTTPError(403, "Policy doesn't allow os_compute_api:"
                            "servers:%s:get_all_tenants to be performed."
                            % ("detail" if detail else "index"))
        with self.cloud.lock:
            servers = sorted(self.cloud.servers.values(),
                             key=lambda s: (s["created"], s["id"]))
            selected = []
            for server in servers:
                if not (caller.is_admin and all_projects) and \
                        server["project_id"] != caller.project_id:
                    continue
                if "project_id" in query and caller.is_admin and \
                        server["project_id"] != query["project_id"]:
                    continue
                if "name" in query and not re.search(query["name"],
                                                     server["name"]):
                    continue
                if "host" in query and caller.is_admin and \
                        server["host"] != query["host"]:
                    continue
                if "uuid" in query and server["id"] != query["uuid"]:
                    continue
                selected.append(server)
            if "marker" in query:
                ids = [s["id"] for s in selected]
                if query["marker"] not in ids:
                    raise HTTPError(400, "marker [%s] not found"
                                    % query["marker"])
                selected = selected[ids.index(query["marker"]) + 1:]
            limit = min(int(query.get("limit", MAX_LIMIT)), MAX_LIMIT)
            page = selected[:limit]
            version = self.microversion()
            views = [self.cloud.server_view(s, caller, version) if detail else
                     {"id": s["id"], "name": s["name"], "links": []}
                     for s in page]
        body = {"servers": views}
        if len(selected) > limit:
            next_query = dict(query, marker=page[-1]["id"], limit=limit)
            body["servers_links"] = [{
                "rel": "next",
                "href": "http://%s%s?%s" % (
                    self.headers.get("Host"), self.path.split("?")[0],
                    urllib.parse.urlencode(next_query))}]
        return body

    def show_server(self, match, query):
        caller = self.caller()
        version = self.microversion()
        with self.cloud.lock:
            server = self.cloud.get_server(match.group("id"), caller)
            return {"server": self.cloud.server_view(server, caller,
                                                     version)}

    def show_metadata(self, match, query):
        caller = self.caller()
        with self.cloud.lock:
            server = self.cloud.get_server(match.group("id"), caller)
            return {"metadata": dict(server["metadata"])}

    def update_metadata(self, match, query):
        caller = self.caller()
        body = self._body()
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            raise HTTPError(400, "Malformed request body")
        with self.cloud.lock:
            server = self.cloud.get_server(match.group("id"), caller)
            if self.command == "PUT":
                server["metadata"] = {}
            server["metadata"].update(
                {str(k): str(v) for k, v in metadata.items()})
            server["updated"] = _now()
            return {"metadata": dict(server["metadata"])}

    def delete_metadata_item(self, match, query):
        caller = self.caller()
        with self.cloud.lock:
            server = self.cloud.get_server(match.group("id"), caller)
            if server["metadata"].pop(match.group("key"), None) is None:
                raise HTTPError(404, "Metadata item was not found")
        return 204, None

    def server_action(self, match, query):
        caller = self.caller()
        body = self._body()
        with self.cloud.lock:
            server = self.cloud.get_server(match.group("id"), caller)
            action = next(iter(body), None)
            server["actions"].append(
                "reboot " + body[action]["type"] if action == "reboot"
                else action)
            if action == "os-stop":
                if server["vm_state"] != "active":
                    raise HTTPError(409, "Cannot 'stop' instance %s while it "
                                    "is in vm_state %s" % (
                                        server["id"], server["vm_state"]))
                server["vm_state"], server["power_state"] = "stopped", 4
                self._power(server, on=False)
            elif action == "os-start":
                if server["vm_state"] != "stopped":
                    raise HTTPError(409, "Cannot 'start' instance %s while "
                                    "it is in vm_state %s" % (
                                        server["id"], server["vm_state"]))
                server["vm_state"], server["power_state"] = "active", 1
                self._power(server, on=True)
            elif action in ("reboot", "rebuild"):
                server["vm_state"], server["power_state"] = "active", 1
                if action == "rebuild":  # as Nova: not on start or reboot
                    server["launched_at"] = _now()
                self._power(server, on=False)
                self._power(server, on=True)
            elif action in ("lock", "unlock"):
                server["locked"] = action == "lock"
            elif action == "os-resetState":
                server["vm_state"] = body[action]["state"]
            else:
                raise HTTPError(400, "Unsupported action %r" % action)
            server["updated"] = _now()
        return 202, None

    def _power(self, server, on):
        hypervisor = self.cloud.hypervisor
        if hypervisor is None:
            return
        try:
            (hypervisor.power_on if on else hypervisor.power_off)(
                server["id"])
        except hypervisor.libvirt.libvirtError as exc:
            raise HTTPError(500, "libvirt: %s" % exc) from None

    def volume_attachments(self, match, query):
        caller = self.caller()
        with self.cloud.lock:
            server = self.cloud.get_server(match.group("id"), caller)
            attachments = [{"id": v, "volumeId": v, "serverId": server["id"],
                            "device": "/dev/vd" + "abcdefgh"[i],
                            "tag": None, "delete_on_termination": False}
                           for i, v in enumerate(server["volumes"])]
        return {"volumeAttachments": attachments}

    def list_services(self, match, query):
        caller = self.caller()
        if not caller.is_admin:
            raise HTTPError(403, "Policy doesn't allow "
                            "os_compute_api:os-services:list to be performed.")
        with self.cloud.lock:
            services = [dict(s) for s in self.cloud.services.values()
                        if query.get("host") in (None, s["host"])
                        and query.get("binary") in (None, s["binary"])]
        return {"services": services}

    # -- block storage -------------------------------------------------
    def _volume(self, volume_id, caller):
        volume = self.cloud.volumes.get(volume_id)
        if volume is None or not (caller.is_admin or
                                  volume["project_id"] == caller.project_id):
            raise HTTPError(404, "Volume %s could not be found." % volume_id)
        return volume

    def show_volume(self, match, query):
        caller = self.caller()
        with self.cloud.lock:
            return {"volume": dict(self._volume(match.group("id"), caller))}

    def list_volumes(self, match, query):
        caller = self.caller()
        all_projects = caller.is_admin and "all_tenants" in query
        with self.cloud.lock:
            volumes = [dict(v) for v in self.cloud.volumes.values()
                       if all_projects or v["project_id"] == caller.project_id]
        return {"volumes": volumes}

    def volume_action(self, match, query):
        caller = self.caller()
        body = self._body()
        with self.cloud.lock:
            volume = self._volume(match.group("id"), caller)
            if "os-set_image_metadata" in body:
                metadata = body["os-set_image_metadata"]["metadata"]
                volume["volume_image_metadata"].update(metadata)
                return {"metadata": dict(volume["volume_image_metadata"])}
            if "os-unset_image_metadata" in body:
                key = body["os-unset_image_metadata"]["key"]
                volume["volume_image_metadata"].pop(key, None)
                return 200, None
        raise HTTPError(400, "Unsupported volume action")

    # -- test routes ---------------------------------------------------
    def seed_server(self, match, query):
        spec = self._body()
        with self.cloud.lock:
            server = self.cloud.add_server(spec)
            return 201, {"server": self.cloud.server_view(
                server, Caller(None, None, True))}

    def seeded_server(self, match, query):
        with self.cloud.lock:
            return {"server": dict(self.cloud.get_server(
                match.group("id"), Caller(None, None, True)))}

    def seed_service(self, match, query):
        spec = self._body()
        with self.cloud.lock:
            return 201, {"service": self.cloud.add_service(**spec)}

    def request_log(self, match, query):
        with self.cloud.lock:
            return {"requests": list(self.cloud.requests)}

    def clear_request_log(self, match, query):
        with self.cloud.lock:
            self.cloud.requests.clear()
        return 204, None

    def set_max_microversion(self, match, query):
        version = self._body().get("version", COMPUTE_MAX_MICROVERSION)
        _version(version)
        with self.cloud.lock:
            self.cloud.max_microversion = version
        return 204, None

    def reset(self, match, query):
        with self.cloud.lock:
            self.cloud.max_microversion = COMPUTE_MAX_MICROVERSION
            self.cloud.servers.clear()
            self.cloud.volumes.clear()
            self.cloud.services.clear()
            self.cloud.requests.clear()
        return 204, None


_ID = r"(?P<id>[^/]+)"
ROUTES = [
    (r"/compute", "GET", Handler.compute_versions),
    (r"/compute/v2\.1", "GET", Handler.compute_version),
    (r"/compute/v2\.1/servers(?P<detail>/detail)?", "GET",
     Handler.list_servers),
    (r"/compute/v2\.1/servers/" + _ID, "GET", Handler.show_server),
    (r"/compute/v2\.1/servers/" + _ID + "/metadata", "GET",
     Handler.show_metadata),
    (r"/compute/v2\.1/servers/" + _ID + "/metadata", "POST",
     Handler.update_metadata),
    (r"/compute/v2\.1/servers/" + _ID + "/metadata", "PUT",
     Handler.update_metadata),
    (r"/compute/v2\.1/servers/" + _ID + "/metadata/(?P<key>[^/]+)",
     "DELETE", Handler.delete_metadata_item),
    (r"/compute/v2\.1/servers/" + _ID + "/action", "POST",
     Handler.server_action),
    (r"/compute/v2\.1/servers/" + _ID + "/os-volume_attachments", "GET",
     Handler.volume_attachments),
    (r"/compute/v2\.1/os-services", "GET", Handler.list_services),
    (r"/volume", "GET", Handler.volume_versions),
    (r"/volume/v3", "GET", Handler.volume_version),
    (r"/volume/v3/volumes(/detail)?", "GET", Handler.list_volumes),
    (r"/volume/v3/volumes/" + _ID, "GET", Handler.show_volume),
    (r"/volume/v3/volumes/" + _ID + "/action", "POST",
     Handler.volume_action),
    (r"/_emulator/servers", "POST", Handler.seed_server),
    (r"/_emulator/servers/" + _ID, "GET", Handler.seeded_server),
    (r"/_emulator/services", "POST", Handler.seed_service),
    (r"/_emulator/requests", "GET", Handler.request_log),
    (r"/_emulator/requests", "DELETE", Handler.clear_request_log),
    (r"/_emulator/reset", "POST", Handler.reset),
    (r"/_emulator/max_microversion", "PUT", Handler.set_max_microversion),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keystone", help="Keystone URL to check tokens")
    parser.add_argument("--libvirt", metavar="URI",
                        help="act on the real domains of this hypervisor")
    args = parser.parse_args()
    Handler.cloud = Cloud(Hypervisor(args.libvirt) if args.libvirt else None)
    Handler.validator = TokenValidator(args.keystone)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
