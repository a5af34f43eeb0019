"""``openstack instanceha status``: is each server really protected?"""
import logging

from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc
from osc_lib.command import command
from osc_lib import exceptions

from osc_instanceha import cloud
from osc_instanceha import protection
from osc_instanceha.v1 import constants

LOG = logging.getLogger(__name__)


class ShowStatus(command.Lister):
    """Show, per server, whether instance HA really protects it and why not.

    The request count does not grow with the number of servers: servers are
    listed once, images fetched in bulk, Masakari segments and hosts listed
    once, recent notifications listed once.
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
            help="Also show the agent source, segment, maintenance state "
                 "and last notification")
        return parser

    def take_action(self, parsed_args):
        try:
            parsed_args.since = protection.parse_since(parsed_args.since)
        except ValueError as exc:
            raise exceptions.CommandError(str(exc)) from None
        conn = self.app.client_manager.instanceha
        servers = self._servers(conn, parsed_args)
        facts = self._facts(conn, servers, parsed_args)
        columns = (constants.STATUS_LONG_COLUMNS if parsed_args.long
                   else constants.STATUS_COLUMNS)
        return columns, [self._row(f, columns) for f in facts]

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

    def _facts(self, conn, servers, args):
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
        masakari_error = None
        hosts, notifications = {}, {}
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
        return [self._server_facts(s, images, volumes, hosts, notifications,
                                   masakari_error) for s in servers]

    @staticmethod
    def _server_facts(server, images, volumes, hosts, notifications,
                      masakari_error):
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
            launched_at=server.launched_at)

    @staticmethod
    def _row(facts, columns):
        masakari_host = facts.masakari_host
        notification = facts.last_notification or {}
        values = {
            "ID": facts.id,
            "Name": facts.name,
            "Status": facts.status,
            "Host": facts.host,
            "HA Enabled": facts.ha_enabled,
            "Guest Agent": facts.agent.has_agent,
            "Agent Source": facts.agent.label(),
            "Segment": masakari_host.segment if masakari_host else None,
            "On Maintenance": (masakari_host.on_maintenance
                               if masakari_host else None),
            "Last Notification": protection.notification_summary(
                facts.last_notification),
            "Notification Status": notification.get("status"),
            "Verdict": protection.verdict(facts),
        }
        return tuple(values[c] for c in columns)

