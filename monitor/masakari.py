"""Talking to the cloud through openstacksdk, configured from ``[api]``:
Masakari for notifications, Nova for HA_Enabled."""
from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import loading as ks_loading
import openstack.connection
from openstack import exceptions as sdk_exc

from monitor.conf import api as api_conf
from monitor.delivery import Answer


def connect(conf):
    """An SDK connection from the keystoneauth options in ``[api]``.

    ``auth_type = none`` with ``endpoint_override`` reaches a Masakari
    without Keystone (or behind a service proxy).
    """
    group = api_conf.GROUP
    auth = ks_loading.load_auth_from_conf_options(conf, group)
    session = ks_loading.load_session_from_conf_options(conf, group,
                                                        auth=auth)
    options = {"instance_ha_interface": conf.api.api_interface}
    if conf.api.endpoint_override:
        options["instance_ha_endpoint_override"] = conf.api.endpoint_override
    return openstack.connection.Connection(
        session=session, region_name=conf.api.region,
        app_name="instanceha-monitor", **options)


def send(conn, body):
    """POST one VM notification; never raises for what the cloud says."""
    try:
        created = conn.instance_ha.create_notification(**body)
    except sdk_exc.HttpException as exc:
        return Answer(exc.status_code, describe(exc))
    except (sdk_exc.SDKException, ksa_exc.ClientException) as exc:
        return Answer(None, describe(exc))
    return Answer(202, "accepted", created.notification_uuid)


def ha_enabled_servers(conn, hostname):
    """UUIDs of this host's servers with HA_Enabled true (Nova)."""
    from oslo_utils import strutils

    return {server.id for server in conn.compute.servers(
        details=True, all_projects=True, compute_host=hostname)
        if strutils.bool_from_string(
            (server.metadata or {}).get("HA_Enabled"), default=False)}


def describe(exc):
    if isinstance(exc, sdk_exc.HttpException):
        return "HTTP %s: %s" % (exc.status_code, exc.details or exc.message)
    return "%s: %s" % (type(exc).__name__, exc)


def find_host(conn, hostname):
    """(segment name, host) for this compute host, or None."""
    for segment in conn.instance_ha.segments():
        for host in conn.instance_ha.hosts(segment.uuid):
            if host.name == hostname:
                return segment.name, host
    return None
