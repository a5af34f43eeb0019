"""[introspectiveinstancemonitor]: guest-agent and kernel heartbeats."""
from oslo_config import cfg

GROUP = "introspectiveinstancemonitor"
OPTS = [
    cfg.IntOpt("guest_monitoring_interval", mutable=True, default=10, min=1,
               help="Seconds between two heartbeats of one guest."),
    cfg.IntOpt("guest_monitoring_timeout", mutable=True, default=2, min=1,
               help="Seconds a heartbeat may take before it counts as "
                    "failed."),
    cfg.IntOpt("guest_monitoring_failure_threshold", mutable=True,
               default=3, min=1,
               help="Consecutive failed heartbeats after which the agent "
                    "counts as silent. With the kernel heartbeat the "
                    "guest is declared hung then, or once its kernel's "
                    "silence is established if that comes later "
                    "(kernel_heartbeat_stale_periods stats periods after "
                    "the first failed heartbeat)."),
    cfg.StrOpt("qemu_guest_agent_sock_path",
               default=r"/var/lib/libvirt/qemu/org\.qemu\.guest_agent\..*"
                       r"\.instance-.*\.sock",
               help="A regular expression for the guest agent's socket "
                    "path (as in masakari-monitors): a channel whose UNIX "
                    "socket path matches it counts as the agent channel, "
                    "as does any channel with the target name "
                    "org.qemu.guest_agent.0."),
    cfg.FloatOpt("reboot_grace", mutable=True, default=60.0, min=0,
                 help="Seconds after a guest reboot during which failed "
                      "heartbeats are not counted."),
    cfg.FloatOpt("storm_fraction", mutable=True, default=0.5, min=0, max=1,
                 help="When more than this fraction of the monitored guests "
                      "fail at once, the host is suspected: one alert, and "
                      "no per-guest hang notifications until it clears."),
    cfg.IntOpt("storm_min_guests", mutable=True, default=4, min=1,
               help="The storm guard applies only with at least this many "
                    "monitored guests."),
    cfg.BoolOpt("monitor_ha_enabled_only", default=False,
                help="Send heartbeats only to guests whose server has "
                     "HA_Enabled=true (Masakari recovers no others anyway). "
                     "Reads Nova with the [api] credentials, which then "
                     "need to list servers of all projects. While Nova "
                     "cannot be read, every guest with an agent is "
                     "watched."),
    cfg.IntOpt("ha_enabled_refresh", default=60, min=5,
               help="Seconds between two readings of this host's servers "
                    "from Nova (HA_Enabled, vm_state, task_state), with "
                    "the masakari and nova backends; a reading is also "
                    "made at once when a decision waits on what Nova is "
                    "doing to a server. One listing of all projects' "
                    "servers on this host per reading, with the [api] "
                    "credentials."),
    cfg.IntOpt("heartbeat_workers", default=64, min=1,
               help="Threads for guest-agent calls. A hung guest holds one "
                    "while libvirt blocks its calls; when none is free a "
                    "heartbeat is skipped, never counted as failed."),
    cfg.BoolOpt("kernel_heartbeat", mutable=True, default=True,
                help="Read every guest's virtio balloon statistics twice "
                     "per guest_monitoring_interval (one bulk libvirt call "
                     "for all guests). The guest kernel answers QEMU's stats "
                     "request every stats period (Nova's [libvirt] "
                     "mem_stats_period_seconds, 10 s by default), so the "
                     "time of its last answer tells a frozen agent from a "
                     "hung kernel, and finds hung guests that have no "
                     "agent. Off: the agent alone decides, as in "
                     "masakari-monitors."),
    cfg.IntOpt("kernel_heartbeat_stale_periods", mutable=True, default=2,
               min=1,
               help="Stats periods without an answer from the guest kernel "
                    "after which it counts as silent: counted from its "
                    "last answer, plus kernel_heartbeat_slack, when the "
                    "kernel alone decides (no working agent); counted "
                    "from the first failed heartbeat while the agent "
                    "fails."),
    cfg.FloatOpt("kernel_heartbeat_slack", mutable=True, default=5.0, min=0,
                 help="Seconds added to the stale periods before a kernel "
                      "with no working agent counts as silent (a busy "
                      "host answers late)."),
    cfg.BoolOpt("recover_on_agent_silence", mutable=True, default=False,
                help="Recover a guest whose agent stopped answering while "
                     "its kernel still answers, as masakari-monitors does. "
                     "Off by default: the guest runs and only its agent "
                     "is stuck; the monitor logs a warning and shows "
                     "'agent unresponsive, kernel alive' in status."),
    cfg.BoolOpt("recover_on_kernel_silence", mutable=True, default=True,
                help="Recover a guest without a working agent (no channel, "
                     "never connected, or port closed) when its kernel "
                     "stops answering the balloon statistics."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
