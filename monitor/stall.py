"""Is the host itself stalled?  Host-level evidence, judged before any
guest's verdict.

A swap storm, CPU starvation, a storage outage or a stopped QEMU make
healthy guests look hung from outside: pings time out, the balloon
statistics stop.  Recovering them on the same host helps none of them, so
while any rule below holds no guest is declared, and after it a guest is
judged only on evidence gathered afterwards.  Each rule reads a signal
that every Linux compute host has; ``judge`` names the first that holds.
Pure: the host probe and the libvirt adapter gather the facts.
"""
import dataclasses


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the adapters last saw of the host."""
    pressure: tuple = ()  # ((resource, kind, avg10 %), ...), Linux PSI
    loop_lag: float = 0.0  # the monitor's own event loop ran this late, s
    stats_stuck: str | None = None  # the bulk statistics call is stuck
    qemu_impaired: int = 0  # running guests whose QEMU is stopped/blocked
    running: int = 0  # running guests


# (resource, kind, the Settings field with the threshold in %)
PRESSURE_RULES = (
    ("memory", "full", "stall_memory_full"),
    ("io", "full", "stall_io_full"),
    ("cpu", "some", "stall_cpu_some"),
)


def judge(facts, settings):
    """Why the host counts as stalled, or None."""
    levels = {(resource, kind): value
              for resource, kind, value in facts.pressure}
    for resource, kind, field in PRESSURE_RULES:
        limit = getattr(settings, field)
        value = levels.get((resource, kind))
        if limit and value is not None and value >= limit:
            return "%s pressure: PSI %s avg10 %.1f %% (limit %.0f %%)" % (
                resource, kind, value, limit)
    if settings.stall_loop_lag and facts.loop_lag >= settings.stall_loop_lag:
        return "the monitor's own event loop ran %.1f s late" % (
            facts.loop_lag)
    if facts.stats_stuck:
        return facts.stats_stuck
    if facts.qemu_impaired >= 2 and \
            facts.qemu_impaired > settings.storm_fraction * facts.running:
        return "the QEMU processes of %d of %d running guests are stopped " \
            "or blocked" % (facts.qemu_impaired, facts.running)
    return None
