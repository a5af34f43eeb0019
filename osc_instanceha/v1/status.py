"""``openstack instanceha status``: is each server really protected?"""
import logging
import os
import time

from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc
from osc_lib.command import command
from osc_lib import exceptions

from osc_instanceha import cloud
from osc_instanceha import fleet
from osc_instanceha import prometheus
from osc_instanceha import protection
from osc_instanceha.v1 import constants

LOG = logging.getLogger(__name__)


def cloud_config(app):
    """The cloud's clouds.yaml entry as a dict (its extra keys too)."""
    options = getattr(app.client_manager, "_cli_options", None)
    config = getattr(options, "config", None)
    return config if isinstance(config, dict) else {}


def prometheus_client(app, parsed_args):
    """A Prometheus client from the options, the environment or
    clouds.yaml; None when no URL is known."""
    try:
        found = prometheus.settings(parsed_args, os.environ,
                                    cloud_config(app))
    except ValueError as exc:
        raise exceptions.CommandError(str(exc)) from None
    return None if found is None else prometheus.Client(found)


class ShowStatus(command.Lister):
    """Show, per server, whether instance HA really protects it, from what,
    and why not.

    The verdict is "protected", "not protected" or "unknown"; "Reasons"
    says why, and what could not be checked.  The host side (the host's
    monitor is running, in enforce mode, not paused, connected to libvirt,
    its notifications not overdue) is read from Prometheus: without a
    Prometheus URL no server is "protected".  The request count does not
    grow with the number of servers.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "servers", metavar="<server>", nargs="*",
            help="Server(s) to check (name or ID; default: all visible)")
        parser.add_argument(
            "--host", metavar="<host>",
            help="Only servers on this compute host (admin only)")
        parser.add_argument(
            "--all-projects", action="store_true",
            help="Servers of all projects (admin only)")
        parser.add_argument(
            "--since", metavar="<hours>", default="24",
            help="How far back to look for Masakari notifications, in "
                 "hours: more than 0, at most %d (default: 24)"
                 % protection.MAX_SINCE_HOURS)
        parser.add_argument(
            "--long", action="store_true",
            help="Also show the agent channel and its source, segment, "
                 "maintenance state, monitor, pause and last notification")
        prometheus.add_arguments(parser)
        return parser

    def take_action(self, parsed_args):
        try:
            parsed_args.since = protection.parse_since(parsed_args.since)
        except ValueError as exc:
            raise exceptions.CommandError(str(exc)) from None
        monitors = prometheus_client(self.app, parsed_args)
        conn = self.app.client_manager.instanceha
        servers = self._servers(conn, parsed_args)
        facts = self._facts(conn, servers, parsed_args, monitors)
        now = time.time()
        columns = (constants.STATUS_LONG_COLUMNS if parsed_args.long
                   else constants.STATUS_COLUMNS)
        return columns, [constants.row(self._values(f, now), columns)
                         for f in facts]

    def _servers(self, conn, args):
        if not args.servers:
            try:
                return cloud.list_servers(conn.compute, args.all_projects,
                                          args.host)
            except cloud.ServerLookupError as exc:
                raise exceptions.CommandError(str(exc)) from None
        servers = []
        for name in args.servers:
            try:
                servers.append(cloud.find_server(conn.compute, name,
                                                 args.all_projects))
            except cloud.ServerLookupError as exc:
                raise exceptions.CommandError(str(exc)) from None
        return servers

    def _facts(self, conn, servers, args, monitors):
        image_ids = {cloud.image_id(s) for s in servers} - {None}
        images = cloud.images_by_id(conn.image, image_ids) \
            if image_ids else {}
        volumes = None
        if any(cloud.image_id(s) is None for s in servers):
            try:
                volumes = cloud.volumes_by_id(conn.block_storage,
                                              args.all_projects)
            except (sdk_exc.SDKException, ksa_exc.ClientException) as exc:
                LOG.warning("cannot list volumes: %s",
                            cloud.describe_sdk_error(exc))
                volumes = {}
        # A project member sees no host: Masakari and the monitors are
        # the admin's side, not asked for (ADMIN_ONLY says so).
        hosts_seen = any(s.compute_host for s in servers)
        masakari_error = None
        hosts, notifications = {}, {}
        if hosts_seen:
            try:
                hosts = cloud.masakari_hosts(conn.instance_ha)
                notifications = cloud.last_notifications(conn.instance_ha,
                                                         args.since)
            except sdk_exc.ForbiddenException as exc:
                masakari_error = "Masakari refused the query (%s)" % \
                    cloud.describe_sdk_error(exc)
            except (sdk_exc.SDKException, ksa_exc.ClientException) as exc:
                masakari_error = "Masakari unreachable: %s" % \
                    cloud.describe_sdk_error(exc)
        states, monitor_error = {}, None
        if monitors is None:
            monitor_error = prometheus.NOT_CHECKED
        elif hosts_seen:
            try:
                states = prometheus.monitor_states(monitors)
            except prometheus.PrometheusError as exc:
                monitor_error = "host side not checked: %s" % exc
        return [self._server_facts(s, images, volumes, hosts, notifications,
                                   masakari_error, states, monitor_error)
                for s in servers]

    @staticmethod
    def _server_facts(server, images, volumes, hosts, notifications,
                      masakari_error, states, monitor_error):
        image = cloud.image_id(server)
        if image:
            source = (cloud.image_source(images[image]) if image in images
                      else protection.AgentSource(
                          "image", image,
                          error="image %s not found or not visible" % image))
        else:
            volume_id = cloud.boot_volume_id(server, volumes)
            if volume_id and volume_id in volumes:
                source = cloud.volume_source(volumes[volume_id])
            else:
                source = protection.AgentSource(
                    "volume", volume_id,
                    error="boot volume not found or not visible")
        return protection.ServerFacts(
            id=server.id, name=server.name, status=server.status,
            metadata=server.metadata or {}, host=server.compute_host,
            agent=source, masakari_host=hosts.get(server.compute_host),
            masakari_error=masakari_error,
            last_notification=notifications.get(server.id),
            launched_at=server.launched_at,
            built_with=cloud.built_with(server),
            monitor=states.get(server.compute_host),
            monitor_error=monitor_error)

    @staticmethod
    def _values(facts, now):
        """Every column's value by name: the one place rows are built."""
        masakari_host = facts.masakari_host
        notification = facts.last_notification or {}
        verdict = protection.assess(facts, now)
        channel, _ = protection.channel_state(
            facts.agent, facts.launched_at, facts.built_with)
        paused, _ = protection.paused_until(facts.metadata, now)
        monitor = None
        if facts.host is not None and not facts.monitor_error:
            monitor = fleet.monitor_column(facts.monitor)
        return {
            "id": facts.id,
            "name": facts.name,
            "status": facts.status,
            "host": facts.host,
            "ha_enabled": facts.ha_enabled,
            "agent_channel": channel,
            "agent_source": facts.agent.label(),
            "segment": masakari_host.segment if masakari_host else None,
            "on_maintenance": (masakari_host.on_maintenance
                               if masakari_host else None),
            "monitor": monitor,
            "paused_until": protection.iso(paused) if paused else None,
            "last_notification": protection.notification_summary(
                facts.last_notification),
            "notification_status": notification.get("status"),
            "verdict": verdict.state,
            "protects_against": verdict.covers,
            "reasons": verdict.reasons,
        }
