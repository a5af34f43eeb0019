"""``openstack instanceha monitor list``: is a monitor armed on every
compute host?"""
import collections

from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc
from osc_lib.command import command
from osc_lib import exceptions

from osc_instanceha import cloud
from osc_instanceha import fleet
from osc_instanceha import prometheus
from osc_instanceha import protection
from osc_instanceha.v1 import constants
from osc_instanceha.v1 import status


class ListMonitors(command.Lister):
    """List every compute host with the state of its monitor (admin).

    The hosts are Nova's compute services and Masakari's hosts of every
    segment; each monitor's state comes from Prometheus: running or when
    last seen, version, mode, pause, libvirt, guests watched by each
    signal, pending and overdue notifications.  Hosts that need attention
    (HA-enabled servers and no monitor running, shadow mode, a pause, lost
    libvirt, overdue notifications) come first.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        prometheus.add_arguments(parser)
        return parser

    def take_action(self, parsed_args):
        client = status.prometheus_client(self.app, parsed_args)
        if client is None:
            raise exceptions.CommandError(
                "monitor list reads the monitors' state from Prometheus: "
                "give --prometheus-url, set INSTANCEHA_PROMETHEUS_URL, or "
                "instanceha_prometheus_url in the cloud's clouds.yaml entry")
        conn = self.app.client_manager.instanceha
        try:
            states = prometheus.monitor_states(client)
        except prometheus.PrometheusError as exc:
            raise exceptions.CommandError(str(exc)) from None
        hosts = self._hosts(conn)
        columns = constants.MONITOR_LIST_COLUMNS
        return columns, [constants.row(values, columns)
                         for values in fleet.host_rows(hosts, states)]

    @staticmethod
    def _hosts(conn):
        try:
            nova = cloud.compute_services(conn.compute)
            servers = cloud.list_servers(conn.compute, all_projects=True)
        except cloud.ServerLookupError as exc:
            raise exceptions.CommandError(str(exc)) from None
        except sdk_exc.ForbiddenException as exc:
            raise exceptions.CommandError(
                "Nova refused to list the compute services (%s): monitor "
                "list is for admins" % cloud.describe_sdk_error(exc)
            ) from None
        try:
            masakari = cloud.masakari_hosts(conn.instance_ha)
        except (sdk_exc.SDKException, ksa_exc.ClientException) as exc:
            raise exceptions.CommandError(
                "cannot list Masakari's hosts: %s"
                % cloud.describe_sdk_error(exc)) from None
        ha = collections.Counter(
            s.compute_host for s in servers if s.compute_host and
            protection.is_true((s.metadata or {}).get(
                protection.HA_METADATA_KEY)))
        names = set(nova) | set(masakari)
        return [fleet.ComputeHost(
            name, nova=nova.get(name),
            segment=masakari[name].segment if name in masakari else None,
            ha_servers=ha.get(name, 0)) for name in names]
