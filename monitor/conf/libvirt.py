"""[libvirt]: the hypervisor connection."""
from oslo_config import cfg

GROUP = "libvirt"
OPTS = [
    cfg.StrOpt("connection_uri", default="qemu:///system",
               help="libvirt URI to monitor. The connection is read-write "
                    "because guest-agent commands need it."),
    cfg.IntOpt("keepalive_interval", default=2, min=1,
               help="Seconds between libvirt keepalive probes; a hung "
                    "libvirtd is noticed after interval x (count + 1)."),
    cfg.IntOpt("keepalive_count", default=3, min=1,
               help="Unanswered keepalive probes before the connection is "
                    "declared dead and reopened."),
    cfg.FloatOpt("reconnect_max_delay", default=0.5, min=0.1,
                 help="Upper bound in seconds of the backoff between "
                      "reconnection attempts while libvirtd is away: the "
                      "monitor is back within about this long of "
                      "libvirtd's return (an attempt on a missing socket "
                      "costs a fraction of a millisecond)."),
    cfg.FloatOpt("stats_deadline", default=5.0, min=0.1,
                 help="Seconds the bulk statistics call (balloon, vCPU "
                      "time and state of every running guest) may take "
                      "before it counts as unanswered; never more than the "
                      "statistics interval (half of "
                      "guest_monitoring_interval). The call skips domains "
                      "whose libvirt job is busy (libvirt 4.5 and later), "
                      "so only a stuck libvirtd or QEMU keeps it waiting; "
                      "an unanswered call goes on in the background, and "
                      "no new one starts while two are unanswered."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
