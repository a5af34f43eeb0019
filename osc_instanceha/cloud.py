"""Reads and writes the cloud state the instanceha commands work on.

Every API call the commands make goes through here, in bulk where the APIs
allow it, so that ``status`` costs a fixed number of requests (plus
pagination) however many servers it reports on.
"""
import datetime

from openstack import exceptions as sdk_exc
from openstack.instance_ha.v1 import segment as sdk_segment

from osc_instanceha import protection

IMAGE_ID_CHUNK = 50  # ids per Glance "id=in:" query; keeps URLs short
# Segments carry "enabled" from Masakari API 1.2 on; openstacksdk sends no
# microversion to Masakari, so ask for it explicitly.
SEGMENT_ENABLED_MICROVERSION = "1.2"
# Nova shows the image properties an instance was built with in server
# show and the detailed listing from this microversion on; openstacksdk
# negotiates up to it (and beyond) by itself.
EMBEDDED_PROPERTIES = (2, 98)


class ServerLookupError(Exception):
    """A server named on the command line could not be resolved, or
    Nova refused to list the servers."""


def _refused(exc, what, all_projects):
    """Nova's 403 as one line; with --all-projects it is the admin rule
    (os_compute_api:servers:detail:get_all_tenants)."""
    return "Nova refused to %s: %s%s" % (
        what, describe_sdk_error(exc),
        " (--all-projects is for admins)" if all_projects else "")


def find_server(compute, name_or_id, all_projects=False):
    try:
        return compute.find_server(name_or_id, ignore_missing=False,
                                   all_projects=all_projects)
    except sdk_exc.ForbiddenException as exc:
        raise ServerLookupError(_refused(
            exc, "look %r up%s" % (name_or_id, " in all projects"
                                   if all_projects else ""),
            all_projects)) from None
    except sdk_exc.DuplicateResource:
        raise ServerLookupError(
            "more than one server is named %r: use its ID" % name_or_id
        ) from None
    except sdk_exc.NotFoundException:
        raise ServerLookupError("no server named or with ID %r%s" % (
            name_or_id, "" if all_projects else
            " in this project (admins: --all-projects)")) from None


def image_id(server):
    image = server.image
    if isinstance(image, dict):
        return image.get("id") or None
    return getattr(image, "id", None) or None


def boot_volume_id(server, volumes):
    """The server's root volume: the attached volume Cinder shows as its
    root device, else the only bootable one."""
    attached = [v["id"] for v in (server.attached_volumes or [])]
    root = getattr(server, "root_device_name", None) or "/dev/vda"
    bootable = []
    for volume_id in attached:
        volume = volumes.get(volume_id)
        if volume is None:
            continue
        for attachment in volume.attachments or []:
            if attachment.get("server_id") == server.id and \
                    attachment.get("device") == root:
                return volume_id
        if volume.is_bootable:
            bootable.append(volume_id)
    return bootable[0] if len(bootable) == 1 else None


def image_source(image):
    return protection.AgentSource(
        kind="image", id=image.id, name=image.name,
        value=image.hw_qemu_guest_agent, updated_at=image.updated_at,
        owner=image.owner, visibility=image.visibility)


def built_with(server):
    """The image properties Nova copied when it built the server, as it
    shows them from microversion 2.98 on; None when it does not (an older
    Nova, or a server booted from a volume: no image)."""
    if not image_id(server) or _version(
            getattr(server, "microversion", None)) < EMBEDDED_PROPERTIES:
        return None
    image = server.image
    if isinstance(image, dict):
        properties = image.get("properties")
    else:  # openstacksdk makes an Image of it: its unknown keys land here
        properties = getattr(image, "properties", None)
    if properties is None:
        return None
    return {k: v for k, v in properties.items() if k != "links"}


def _version(text):
    try:
        major, minor = str(text).split(".")
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def volume_source(volume):
    metadata = volume.volume_image_metadata or {}
    return protection.AgentSource(
        kind="volume", id=volume.id, name=volume.name or None,
        value=metadata.get(protection.AGENT_PROPERTY),
        updated_at=volume.updated_at)


def agent_source(conn, server):
    """The image or boot volume of one server (enable/disable path)."""
    image = image_id(server)
    if image:
        try:
            return image_source(conn.image.get_image(image))
        except sdk_exc.NotFoundException:
            return protection.AgentSource(
                "image", image, error="image %s not found or not visible"
                % image)
    volume_id = None
    if server.attached_volumes:
        attachments = list(conn.compute.volume_attachments(server))
        root = getattr(server, "root_device_name", None) or "/dev/vda"
        for attachment in attachments:
            if attachment.device == root:
                volume_id = attachment.volume_id
        if volume_id is None and len(attachments) == 1:
            volume_id = attachments[0].volume_id
    if volume_id is None:
        return protection.AgentSource(
            "volume", None, error="server has neither an image nor an "
            "identifiable boot volume")
    try:
        return volume_source(conn.block_storage.get_volume(volume_id))
    except sdk_exc.NotFoundException:
        return protection.AgentSource(
            "volume", volume_id, error="boot volume %s not found or not "
            "visible" % volume_id)


def set_agent_property(conn, source):
    """Add hw_qemu_guest_agent=yes, keeping every other property.

    The image is addressed by id with the property as a keyword: handing
    openstacksdk a fetched Image together with ``properties=`` makes it send
    a JSON-patch ``remove`` for every custom property it does not see again.
    """
    if source.kind == "image":
        conn.image.update_image(
            source.id, **{protection.AGENT_PROPERTY: protection.AGENT_VALUE})
    else:
        conn.block_storage.set_volume_image_metadata(
            source.id,
            **{protection.AGENT_PROPERTY: protection.AGENT_VALUE})


def set_ha_flag(compute, server, enabled):
    """Merge HA_Enabled into the metadata (a POST, never a replace)."""
    compute.set_server_metadata(
        server, **{protection.HA_METADATA_KEY: str(bool(enabled))})


# -- bulk reads for status ----------------------------------------------

def list_servers(compute, all_projects=False, host=None):
    """ServerLookupError when Nova refuses the listing."""
    query = {"compute_host": host} if host else {}
    try:
        servers = compute.servers(details=True, all_projects=all_projects,
                                  **query)
        return [s for s in servers if host is None or s.compute_host in
                (None, host)]
    except sdk_exc.ForbiddenException as exc:
        raise ServerLookupError(_refused(
            exc, "list the servers%s" % (" of all projects"
                                         if all_projects else ""),
            all_projects)) from None


def images_by_id(image_proxy, ids):
    found = {}
    ids = sorted(set(ids))
    for start in range(0, len(ids), IMAGE_ID_CHUNK):
        chunk = ids[start:start + IMAGE_ID_CHUNK]
        for image in image_proxy.images(id="in:" + ",".join(chunk),
                                        visibility="all"):
            found[image.id] = image
    return found


def volumes_by_id(block_storage, all_projects=False):
    query = {"all_projects": True} if all_projects else {}
    return {v.id: v for v in block_storage.volumes(details=True, **query)}


def compute_services(compute):
    """{host: "enabled, up"} of every nova-compute service (admin)."""
    return {s.host: "%s, %s" % (s.status, s.state)
            for s in compute.services(binary="nova-compute")}


def masakari_hosts(instance_ha):
    """Map compute host name -> MasakariHost, one request per segment."""
    hosts = {}
    try:
        segments = list(sdk_segment.Segment.list(
            instance_ha, microversion=SEGMENT_ENABLED_MICROVERSION))
    except sdk_exc.HttpException as exc:
        if exc.status_code != 406:  # a Masakari older than 1.2
            raise
        segments = list(instance_ha.segments())
    for segment in segments:
        for host in instance_ha.hosts(segment.uuid):
            hosts[host.name] = protection.MasakariHost(
                segment=segment.name,
                segment_enabled=segment.is_enabled,
                on_maintenance=bool(host.on_maintenance),
                reserved=bool(host.reserved))
    return hosts


def last_notifications(instance_ha, since_hours):
    """Newest VM notification per instance generated in the window."""
    since = (datetime.datetime.now(datetime.timezone.utc) -
             datetime.timedelta(hours=since_hours))
    newest = {}
    for notification in instance_ha.notifications(
            generated_since=since.strftime("%Y-%m-%dT%H:%M:%S"), type="VM"):
        payload = notification.payload or {}
        uuid = payload.get("instance_uuid")
        if uuid is None:
            continue
        record = {"uuid": notification.notification_uuid,
                  "status": notification.status,
                  "generated_time": str(notification.generated_time),
                  "payload": payload}
        current = newest.get(uuid)
        if current is None or record["generated_time"] > \
                current["generated_time"]:
            newest[uuid] = record
    return newest


def describe_sdk_error(exc):
    """One line an operator can act on, from an SDK or keystoneauth error."""
    status = getattr(exc, "status_code", None)
    details = getattr(exc, "details", None) or str(exc)
    if status:
        return "HTTP %s: %s" % (status, details)
    return str(exc) or exc.__class__.__name__
