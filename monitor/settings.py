"""What the engine and the pollers run with, read from the config files
(on start and again on SIGHUP).  Kept apart so the engine knows nothing of
option names."""
from monitor import engine as engine_mod


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
        kernel_silence_recovers=intro.recover_on_kernel_silence)


def stats_interval(conf):
    """Two bulk statistics calls per heartbeat interval; None while the
    kernel heartbeat is off."""
    intro = conf.introspectiveinstancemonitor
    return intro.guest_monitoring_interval / 2.0 \
        if intro.kernel_heartbeat else None
