"""``openstack instanceha pause`` and ``resume``: step the host monitor
out of a server's way for a while.

The end time goes into the server's metadata (``HA_Paused_Until``, UTC),
which the monitor already reads in its one listing of the host's servers:
a pause costs the monitor no request of its own, and it ends by itself
even when nobody resumes it.
"""
import time

from openstack import exceptions as sdk_exc
from osc_lib import exceptions

from monitor import pause as pause_mod
from osc_instanceha import cloud
from osc_instanceha.v1 import constants
from osc_instanceha.v1 import server_ha


class PauseServerHA(server_ha._ServerBatch):
    """Pause instance HA of servers for a while (e.g. --for 2h).

    The host monitor ignores the servers' hangs and deaths until the pause
    ends (on its own, at the time shown); afterwards each guest is judged
    only on what it does from then on. For maintenance inside the guest:
    a kernel upgrade with the agent stopped, a long fsfreeze, a debugging
    session. A monitor honours a pause of at most its [recovery]
    max_pause (7 days by default).
    """

    columns = constants.PAUSE_COLUMNS
    clock = staticmethod(time.time)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--for", dest="length", required=True, metavar="<length>",
            help="How long: 90s, 30m, 2h, 1d (at most %s)" % pause_mod.human(
                pause_mod.DEFAULT_MAX))
        return parser

    def take_action(self, parsed_args):
        try:  # refused before any server is looked up or changed
            seconds = pause_mod.duration(parsed_args.length)
        except pause_mod.PauseError as exc:
            raise exceptions.CommandError(str(exc)) from None
        self._until = pause_mod.iso(self.clock() + seconds)
        return super().take_action(parsed_args)

    def process(self, conn, server, args):
        if args.dry_run:
            return (server.id, server.name, self._until,
                    "dry run: nothing changed")
        try:
            conn.compute.set_server_metadata(
                server, **{pause_mod.METADATA_KEY: self._until})
        except sdk_exc.SDKException as exc:
            return self._failure_row(server.id, server.name, "cannot set "
                                     "%s: %s" % (pause_mod.METADATA_KEY,
                                                 cloud.describe_sdk_error(
                                                     exc)))
        return (server.id, server.name, self._until, "ok")


class ResumeServerHA(server_ha._ServerBatch):
    """End the pause of instance HA of servers now.

    Removes HA_Paused_Until; the monitor watches the servers again from
    its next reading of Nova (within [introspectiveinstancemonitor]
    ha_enabled_refresh).
    """

    columns = constants.PAUSE_COLUMNS

    def process(self, conn, server, args):
        metadata = server.metadata or {}
        if pause_mod.METADATA_KEY not in metadata:
            return (server.id, server.name, "-", "not paused")
        if args.dry_run:
            return (server.id, server.name, "would remove",
                    "dry run: nothing changed")
        try:
            conn.compute.delete_server_metadata(
                server, [pause_mod.METADATA_KEY])
        except sdk_exc.SDKException as exc:
            return self._failure_row(server.id, server.name, "cannot remove "
                                     "%s: %s" % (pause_mod.METADATA_KEY,
                                                 cloud.describe_sdk_error(
                                                     exc)))
        return (server.id, server.name, "-", "resumed")
