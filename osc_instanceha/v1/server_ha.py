"""``openstack instanceha enable`` and ``disable``."""
import logging

from openstack import exceptions as sdk_exc
from osc_lib.command import command
from osc_lib import exceptions

from osc_instanceha import cloud
from osc_instanceha import protection
from osc_instanceha.v1 import constants

LOG = logging.getLogger(__name__)


class _ServerBatch(command.Lister):
    """Applies one change to many servers: every server is tried, each
    failure is reported in its row, and the command fails at the end with
    "N of M servers failed" (as ironicclient does for nodes)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "servers", metavar="<server>", nargs="+",
            help="Server(s) (name or ID)")
        parser.add_argument(
            "--all-projects", action="store_true",
            help="Look the servers up in all projects (admin only)")
        parser.add_argument(
            "--dry-run", action="store_true",
            help="Show what would change and change nothing")
        return parser

    def take_action(self, parsed_args):
        conn = self.app.client_manager.instanceha
        self._failed = 0
        rows = []
        for name in parsed_args.servers:
            try:
                server = cloud.find_server(conn.compute, name,
                                           parsed_args.all_projects)
            except cloud.ServerLookupError as exc:
                rows.append(self._failure_row(None, name, str(exc)))
                continue
            rows.append(self.process(conn, server, parsed_args))
        return self.columns, rows

    def run(self, parsed_args):
        result = super().run(parsed_args)
        if self._failed:
            raise exceptions.CommandError(
                "%d of %d servers failed" % (self._failed,
                                             len(parsed_args.servers)))
        return result

    def _failure_row(self, server_id, name, message, **done):
        self._failed += 1
        row = dict.fromkeys(self.columns, "-")
        row.update(done, ID=server_id or "-", Name=name,
                   Result="error: " + message)
        LOG.error("%s: %s", name, message)
        return tuple(row[c] for c in self.columns)


def _api_error(exc, what, fix=""):
    message = "%s: %s" % (what, cloud.describe_sdk_error(exc))
    return message + (" (%s)" % fix if fix else "")


class EnableServerHA(_ServerBatch):
    """Protect servers: set HA_Enabled=True and hw_qemu_guest_agent=yes.

    The guest-agent property goes on the server's image, or on the boot
    volume's image metadata for a server booted from volume.  An image
    that is public, shared, community or another project's is left alone
    (the row says what would change) unless --modify-shared-image is given:
    the property reaches every server later built from it.  Nova reads it
    when it builds the guest, so a running server gets the agent channel
    only after a rebuild; the "Agent Channel" column says so.
    """

    columns = constants.ENABLE_COLUMNS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        image = parser.add_mutually_exclusive_group()
        image.add_argument(
            "--no-image", action="store_true",
            help="Only set the server metadata; leave the image or boot "
                 "volume alone")
        image.add_argument(
            "--modify-shared-image", action="store_true",
            help="Also set %s=%s on an image that is public, shared, "
                 "community or owned by another project (it applies to "
                 "every server later built from it)" % (
                     protection.AGENT_PROPERTY, protection.AGENT_VALUE))
        return parser

    def process(self, conn, server, args):
        try:
            source = cloud.agent_source(conn, server)
        except sdk_exc.SDKException as exc:
            return self._failure_row(server.id, server.name, _api_error(
                exc, "cannot read the image or boot volume"))
        plan = protection.plan_enable(
            server.metadata or {}, source, touch_agent=not args.no_image,
            project_id=getattr(conn, "current_project_id", None),
            modify_shared=args.modify_shared_image)
        verb = "would set" if args.dry_run else "set"
        if not plan.touch_agent:
            agent_note = "skipped (--no-image)"
        elif source.error:
            agent_note = "unknown: " + source.error
        elif plan.held_back:
            agent_note = ("not changed: %s; --modify-shared-image would set "
                          "%s=%s on it" % (plan.held_back,
                                           protection.AGENT_PROPERTY,
                                           protection.AGENT_VALUE))
        elif plan.set_agent:
            agent_note = "%s on %s" % (verb, source.label())
        else:
            agent_note = "already on %s" % source.label()
        values = {"id": server.id, "name": server.name,
                  "ha_enabled": verb if plan.set_metadata else "already set",
                  "guest_agent_property": agent_note,
                  "agent_channel": protection.agent_channel(
                      source, plan.set_agent, server.launched_at,
                      cloud.built_with(server)),
                  "result": "ok"}
        if args.dry_run:
            values["result"] = "dry run: nothing changed"
            return constants.row(values, self.columns)
        if plan.touch_agent and source.error:
            return self._failure_row(
                server.id, server.name, source.error +
                " (use --no-image to set only the server metadata)")
        if plan.set_agent:
            try:
                cloud.set_agent_property(conn, source)
            except sdk_exc.ForbiddenException as exc:
                return self._failure_row(server.id, server.name, _api_error(
                    exc, "may not modify %s" % source.label(),
                    "ask its owner to set %s=%s, or use --no-image" % (
                        protection.AGENT_PROPERTY, protection.AGENT_VALUE)),
                    **{"HA_Enabled": "not changed"})
            except sdk_exc.SDKException as exc:
                return self._failure_row(server.id, server.name, _api_error(
                    exc, "cannot update %s" % source.label()),
                    **{"HA_Enabled": "not changed"})
        if plan.set_metadata:
            try:
                cloud.set_ha_flag(conn.compute, server, True)
            except sdk_exc.SDKException as exc:
                return self._failure_row(server.id, server.name, _api_error(
                    exc, "cannot set %s" % protection.HA_METADATA_KEY),
                    **{"Guest Agent Property": agent_note})
        return constants.row(values, self.columns)


class DisableServerHA(_ServerBatch):
    """Stop protecting servers: set HA_Enabled=False.

    The image is left alone: other servers may share it.
    """

    columns = constants.DISABLE_COLUMNS

    def process(self, conn, server, args):
        metadata = server.metadata or {}
        if not protection.is_true(metadata.get(protection.HA_METADATA_KEY)):
            return (server.id, server.name, "already off", "ok")
        if args.dry_run:
            return (server.id, server.name, "would set False",
                    "dry run: nothing changed")
        try:
            cloud.set_ha_flag(conn.compute, server, False)
        except sdk_exc.SDKException as exc:
            return self._failure_row(server.id, server.name, _api_error(
                exc, "cannot set %s" % protection.HA_METADATA_KEY))
        return (server.id, server.name, "set False", "ok")
