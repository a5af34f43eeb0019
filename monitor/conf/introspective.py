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
    cfg.FloatOpt("boot_allowance", mutable=True, default=240.0, min=0,
                 help="Seconds a rebooted guest's new kernel may take to "
                      "answer the balloon statistics for the first time "
                      "(firmware, a boot menu, fsck, large memory, "
                      "Windows servicing). QEMU keeps the old kernel's "
                      "answer time across a reset, so until the new "
                      "kernel answers, its silence is not counted; a "
                      "guest that never answers is judged once this has "
                      "passed. As vSphere's VM monitoring waits a minimum "
                      "uptime of 120 to 480 s."),
    cfg.FloatOpt("storm_fraction", mutable=True, default=0.5, min=0, max=1,
                 help="When more than this fraction of the monitored guests "
                      "fail at once, the host is suspected: one alert, and "
                      "no per-guest hang notifications until it clears; "
                      "the guests held are then judged again on what they "
                      "do afterwards. Also the share of running guests "
                      "whose QEMU processes are stopped or blocked that "
                      "makes the whole host count as stalled."),
    cfg.IntOpt("storm_min_guests", mutable=True, default=2, min=1,
               help="The storm guard applies only with at least this many "
                    "monitored guests; I/O errors reported on this many "
                    "guests (at least 2) within io_error_settle are "
                    "storage's problem and recover nobody."),
    cfg.FloatOpt("stall_memory_pressure", mutable=True, default=10.0,
                 min=0, max=100,
                 help="The host counts as stalled, and no guest is judged, "
                      "while Linux pressure stall information shows "
                      "memory 'full' avg10 at or above this percentage "
                      "(/proc/pressure/memory: every task stalled on "
                      "memory, a swap storm). 0 turns the rule off."),
    cfg.FloatOpt("stall_io_pressure", mutable=True, default=30.0, min=0,
                 max=100,
                 help="As stall_memory_pressure, for I/O 'full' avg10 "
                      "(/proc/pressure/io: every task stalled on I/O)."),
    cfg.FloatOpt("stall_cpu_pressure", mutable=True, default=0.0, min=0,
                 max=100,
                 help="As stall_memory_pressure, for CPU 'some' avg10 "
                      "(/proc/pressure/cpu). Off by default: a host full "
                      "of busy guests shows high CPU pressure while every "
                      "guest answers; CPU starvation that matters shows "
                      "in stall_loop_lag."),
    cfg.FloatOpt("stall_loop_lag", mutable=True, default=2.0, min=0,
                 help="The host counts as stalled while the monitor's own "
                      "event loop runs this many seconds late (the monitor "
                      "itself is starved of CPU or memory). 0 turns the "
                      "rule off."),
    cfg.FloatOpt("io_error_settle", mutable=True, default=10.0, min=0,
                 help="Seconds an I/O error reported to a guest waits "
                      "before it is sent, so that errors of many guests "
                      "at once (a storage outage) are told from one "
                      "guest's; they and errors while the host is stalled "
                      "recover nobody."),
    cfg.BoolOpt("monitor_ha_enabled_only", default=False,
                help="Send heartbeats only to guests whose server has "
                     "HA_Enabled=true (Masakari recovers no others anyway). "
                     "Reads Nova with the [api] credentials, which then "
                     "need to list servers of all projects. While Nova "
                     "cannot be read, every guest with an agent is "
                     "watched."),
    cfg.IntOpt("ha_enabled_refresh", default=60, min=5,
               help="Seconds between two readings of this host's servers "
                    "from Nova (one listing): their HA_Enabled (for "
                    "monitor_ha_enabled_only), their HA_Paused_Until (a "
                    "pause the operator set with 'openstack instanceha "
                    "pause') and the operations under "
                    "way (task_state, vm_state), which excuse a guest. A "
                    "hang verdict reads Nova again when this reading is "
                    "older than guest_monitoring_interval. One listing of "
                    "all projects' servers on this host, with the [api] "
                    "credentials. Not with [recovery] backend = libvirt."),
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
