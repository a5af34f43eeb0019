"""Talking to the cloud through openstacksdk, configured from ``[api]``:
Masakari for notifications, Nova for this host's servers.

Every request has a connect and a read timeout (``[api] connect_timeout``
and ``[api] timeout``): a peer that accepts the connection and never
answers costs one worker for that long, never the monitor.
"""
from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import loading as ks_loading
import openstack.connection
from openstack import exceptions as sdk_exc
from oslo_utils import strutils

from monitor import delivery
from monitor import observations as obs
from monitor import pause
from monitor.conf import api as api_conf


def connect(conf):
    """An SDK connection from the keystoneauth options in ``[api]``.

    ``auth_type = none`` with ``endpoint_override`` reaches a Masakari
    without Keystone (or behind a service proxy).
    """
    group = api_conf.GROUP
    auth = ks_loading.load_auth_from_conf_options(conf, group)
    session = ks_loading.load_session_from_conf_options(conf, group,
                                                        auth=auth)
    # keystoneauth takes one number for both; requests takes the pair
    session.timeout = (conf.api.connect_timeout, conf.api.timeout)
    options = {"instance_ha_interface": conf.api.api_interface,
               "compute_interface": conf.api.api_interface}
    if conf.api.endpoint_override:
        options["instance_ha_endpoint_override"] = conf.api.endpoint_override
    if conf.api.version:
        options["instance_ha_api_version"] = conf.api.version
    for name in api_conf.SHARED_ADAPTER_OPTIONS:
        if conf.api[name] is not None:
            options[name] = conf.api[name]
    return openstack.connection.Connection(
        session=session, region_name=conf.api.region,
        app_name="instanceha-monitor", **options)


def outcome_of_status(status_code, detail):
    """What an HTTP answer from Masakari means for an outbox entry.

    400 (unknown host, bad payload) and 409 (duplicate within Masakari's
    window, host on maintenance) are final: sending the same body again
    cannot succeed.  Everything else (5xx, 401/403 while credentials are
    fixed, 404 from a proxy, 408, 429) is retried, for as long as it takes.
    """
    if 200 <= status_code < 300:
        return delivery.accepted(detail)
    if status_code in (400, 409):
        return delivery.rejected(detail, config_error=(
            status_code == 400 and "host" in detail.lower()))
    return delivery.retry(detail)


def send(conn, body):
    """POST one VM notification; never raises for what the cloud says."""
    try:
        created = conn.instance_ha.create_notification(**body)
    except sdk_exc.HttpException as exc:
        if exc.status_code is None:
            return delivery.retry(describe(exc))
        return outcome_of_status(exc.status_code, describe(exc))
    except (sdk_exc.SDKException, ksa_exc.ClientException) as exc:
        return delivery.retry(describe(exc))
    return delivery.accepted("accepted", created.notification_uuid)


def host_servers(conn, hostname):
    """This host's servers as ``obs.Server`` (Nova, one listing of all
    projects, every page; blocking: run in a worker).  HA_Enabled as
    Masakari reads it: a true string of the server's metadata;
    HA_Paused_Until as it is (the engine judges it): a pause costs no
    request of its own.

    Read as JSON through the compute proxy's own session instead of as
    openstacksdk ``Server`` resources: building a resource per server was
    40 % of the monitor's CPU at rest on a host of 20 guests (profiled),
    repeated every refresh, for four fields the engine needs.
    """
    found, url = [], "/servers/detail"
    params = {"all_tenants": "True", "host": hostname}
    while url:
        response = conn.compute.get(url, params=params)
        sdk_exc.raise_from_response(response)
        body = response.json()
        for server in body.get("servers", ()):
            metadata = server.get("metadata") or {}
            found.append(obs.Server(
                server["id"], strutils.bool_from_string(
                    metadata.get("HA_Enabled"), default=False),
                server.get("OS-EXT-STS:vm_state"),
                server.get("OS-EXT-STS:task_state"),
                metadata.get(pause.METADATA_KEY)))
        # Nova pages at its [api] max_limit; the next link carries the
        # query and the marker
        url = next((link["href"] for link in body.get("servers_links", ())
                    if link.get("rel") == "next"), None)
        params = None
    return tuple(found)


def describe(exc):
    """One line for an exception from keystoneauth or openstacksdk,
    naming the cause an operator can act on."""
    if isinstance(exc, sdk_exc.HttpException) and exc.status_code:
        return "HTTP %s: %s" % (exc.status_code, exc.details or exc.message)
    if isinstance(exc, (ksa_exc.ConnectTimeout, ksa_exc.RequestTimeout)):
        # keystoneauth raises ConnectTimeout for a read timeout as well
        return "timed out ([api] connect_timeout / timeout): %s" % exc
    if isinstance(exc, ksa_exc.ConnectFailure):
        return "cannot connect: %s" % exc
    return "%s: %s" % (type(exc).__name__, exc)


def find_host(conn, hostname):
    """(segment name, host) for this compute host, or None."""
    for segment in conn.instance_ha.segments():
        for host in conn.instance_ha.hosts(segment.uuid):
            if host.name == hostname:
                return segment.name, host
    return None
