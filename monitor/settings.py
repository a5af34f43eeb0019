"""What the engine and the pollers run with, read from the config files
(on start and again on SIGHUP).  Kept apart so the engine knows nothing of
option names."""
from monitor import engine as engine_mod
from monitor.conf import recovery as recovery_conf


def engine(conf):
    intro = conf.introspectiveinstancemonitor
    return engine_mod.Settings(
        hostname=conf.hostname, interval=intro.guest_monitoring_interval,
        timeout=intro.guest_monitoring_timeout,
        threshold=intro.guest_monitoring_failure_threshold,
        reboot_grace=intro.reboot_grace, max_recoveries=conf.recovery_budget,
        recovery_window=conf.recovery_budget_window,
        storm_fraction=intro.storm_fraction,
        storm_min_guests=intro.storm_min_guests,
        forward_ignored=conf.forward_ignored_events,
        forensics=conf.forensics.enabled,
        forensics_hold=conf.forensics.timeout,
        kernel_heartbeat=intro.kernel_heartbeat,
        kernel_stale_periods=intro.kernel_heartbeat_stale_periods,
        kernel_slack=intro.kernel_heartbeat_slack,
        kernel_poll_interval=stats_interval(conf) or
        intro.guest_monitoring_interval / 2.0,
        agent_silence_recovers=intro.recover_on_agent_silence,
        kernel_silence_recovers=intro.recover_on_kernel_silence,
        boot_allowance=intro.boot_allowance,
        stall_memory_full=intro.stall_memory_pressure,
        stall_io_full=intro.stall_io_pressure,
        stall_cpu_some=intro.stall_cpu_pressure,
        stall_loop_lag=intro.stall_loop_lag,
        io_error_settle=intro.io_error_settle,
        nova_guard=conf.recovery.backend != recovery_conf.LIBVIRT,
        # the nova backend hard-reboots a hung guest and the libvirt one
        # destroys it itself: neither waits for a clean shutdown
        fence_hung=(conf.recovery.fence_hung and
                    conf.recovery.backend == recovery_conf.MASAKARI),
        shadow=conf.recovery.mode == recovery_conf.SHADOW,
        max_pause=conf.recovery.max_pause,
        ha_enabled_only=intro.monitor_ha_enabled_only)


def stats_interval(conf):
    """Two bulk statistics calls per heartbeat interval; None while the
    kernel heartbeat is off."""
    intro = conf.introspectiveinstancemonitor
    return intro.guest_monitoring_interval / 2.0 \
        if intro.kernel_heartbeat else None
