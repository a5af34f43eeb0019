"""The fleet's monitors as Prometheus sees them, decided without any I/O.

Every series a monitor exports carries a ``host`` label with its
configured hostname (``[DEFAULT] hostname``, the name Nova and Masakari
use), so a Nova compute host maps to its monitor by name, whatever address
Prometheus scrapes.  ``prometheus`` runs the two queries below; this module
turns their answers into one ``MonitorState`` per host and the rows of
``openstack instanceha monitor list``.
"""
import dataclasses

from osc_instanceha import protection

# One instant query for the state of every monitor scraped now.  A monitor
# whose scrape fails is marked stale by Prometheus at once, so it is absent
# here from the first failed scrape on.
METRICS = ("build_info", "monitor_info", "paused_until_timestamp_seconds",
           "libvirt_connected", "domains", "outbox_depth", "outbox_overdue",
           "store_writable", "scrape_timestamp_seconds")
NOW_QUERY = '{__name__=~"instanceha_(%s)",host!=""}' % "|".join(METRICS)
# When each monitor was last scraped within the look-back window: the
# monitor's own clock at that scrape.
SEEN_QUERY = ("max by (host) (max_over_time("
              "instanceha_scrape_timestamp_seconds[%s]))")
DETECTION = ("agent", "kernel", "none", "off")

ENFORCE = "enforce"


@dataclasses.dataclass
class MonitorState:
    """One host's monitor.  ``up``: scraped now; ``last_seen``: epoch
    seconds of the last scrape within the look-back window.  Metrics that
    an older monitor does not export read as their defaults: enforce mode,
    not paused."""
    host: str
    up: bool
    last_seen: float | None = None
    version: str | None = None
    mode: str = ENFORCE
    paused_until: float = 0.0
    libvirt_connected: bool | None = None
    domains: dict = dataclasses.field(default_factory=dict)
    pending: int | None = None
    overdue: int | None = None
    store_writable: bool | None = None

    @property
    def watched(self):
        return sum(self.domains.values())


def _samples(answer):
    """(labels, value) of an instant query's vector answer."""
    for sample in answer:
        try:
            yield sample["metric"], float(sample["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue


def monitor_states(now_answer, seen_answer, now):
    """{host: MonitorState} from the answers of NOW_QUERY and SEEN_QUERY.

    A pause that has ended reads as none; a host seen within the window
    but not now is ``up=False`` with its ``last_seen``.
    """
    states = {}
    for labels, value in _samples(seen_answer):
        host = labels.get("host")
        if host:
            states[host] = MonitorState(host, up=False, last_seen=value)
    for labels, value in _samples(now_answer):
        host = labels.get("host")
        if not host:
            continue
        state = states.get(host)
        if state is None:
            state = states[host] = MonitorState(host, up=False)
        state.up = True
        name = labels.get("__name__", "")[len("instanceha_"):]
        if name == "build_info" and state.version is None:
            state.version = labels.get("version")
        elif name == "monitor_info":
            state.version = labels.get("version") or state.version
            state.mode = labels.get("mode") or ENFORCE
        elif name == "paused_until_timestamp_seconds":
            state.paused_until = value if value > now else 0.0
        elif name == "libvirt_connected":
            state.libvirt_connected = bool(value)
        elif name == "domains":
            detection = labels.get("detection", "none")
            state.domains[detection] = state.domains.get(detection, 0) + \
                int(value)
        elif name == "outbox_depth":
            state.pending = int(value)
        elif name == "outbox_overdue":
            state.overdue = int(value)
        elif name == "store_writable":
            state.store_writable = bool(value)
        elif name == "scrape_timestamp_seconds":
            state.last_seen = max(value, state.last_seen or 0.0)
    return states


@dataclasses.dataclass
class ComputeHost:
    """A host as the cloud knows it: Nova's compute service (None: not in
    Nova), its failover segment, how many HA-enabled servers run there."""
    name: str
    nova: str | None = None
    segment: str | None = None
    ha_servers: int | None = None


def attention(host, state):
    """What an operator must look at on this host (a list, empty when
    nothing)."""
    notes = []
    if state is None or not state.up:
        if host.ha_servers:
            notes.append("%d HA server(s) and no monitor running"
                         % host.ha_servers)
        elif host.nova is not None or host.segment is not None:
            notes.append("no monitor running")
        return notes
    if host.nova is None:
        notes.append("not a compute host of Nova")
    if state.mode != ENFORCE:
        notes.append("%s mode: recovers nothing" % state.mode)
    if state.paused_until:
        notes.append("paused")
    if state.libvirt_connected is False:
        notes.append("libvirt lost")
    if state.overdue:
        notes.append("overdue notifications")
    if state.store_writable is False:
        notes.append("state store cannot commit")
    return notes


def monitor_column(state):
    if state is None:
        return "never seen"
    if state.up:
        return "up"
    return "not seen since %s" % protection.iso(state.last_seen)


def host_rows(hosts, states):
    """The rows of ``monitor list`` as dicts keyed by column (see
    constants.MONITOR_LIST_COLUMNS): every host of the cloud, then every
    monitor on a host the cloud does not know; hosts that need attention
    first."""
    by_name = {h.name: h for h in hosts}
    for name in states:
        by_name.setdefault(name, ComputeHost(name))
    rows = []
    for name in sorted(by_name):
        host, state = by_name[name], states.get(name)
        up = state is not None and state.up
        rows.append({
            "host": name,
            "nova": host.nova,
            "segment": host.segment,
            "ha_servers": host.ha_servers,
            "monitor": monitor_column(state),
            "version": state.version if up else None,
            "mode": state.mode if up else None,
            "paused_until": (protection.iso(state.paused_until)
                             if up and state.paused_until else None),
            "libvirt": ((None if state.libvirt_connected is None else
                         "connected" if state.libvirt_connected else
                         "DISCONNECTED") if up else None),
            "guests": dict(state.domains) if up else None,
            "pending": state.pending if up else None,
            "overdue": state.overdue if up else None,
            "last_scrape": (protection.iso(state.last_seen)
                            if state is not None and state.last_seen
                            else None),
            "attention": attention(host, state),
        })
    rows.sort(key=lambda row: (not row["attention"], row["host"]))
    return rows
