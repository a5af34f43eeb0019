"""The monitor's status document (``/status``, ``instanceha-monitor
status``): the engine's view of each domain, the outbox (entries the
store keeps in memory included), the connection, the store's health."""
from monitor import notification
from monitor import store as store_mod

RECENT_ENTRIES = 50
RECENT_WOULD_RECOVER = 20


def entry_view(entry, now, overdue_after):
    payload = entry["body"]["payload"]
    pending = entry["state"] == store_mod.PENDING
    return {
        "key": entry["key"],
        "instance_uuid": payload["instance_uuid"],
        "event": "%s/%s" % (payload["event"], payload["vir_domain_event"]),
        "generated_time": entry["body"]["generated_time"],
        "state": entry["state"],
        "attempts": entry["attempts"],
        "next_attempt_at": (notification.iso(entry["next_attempt_at"])
                            if pending else None),
        "overdue": pending and now - entry["created_at"] > overdue_after,
        "last_error": entry["last_error"],
        "notification_uuid": entry["notification_uuid"],
    }


def would_recover_view(row):
    """One decision of shadow mode, as status and history show it."""
    payload = row["body"]["payload"]
    return {"decided_at": notification.iso(row["decided_at"]),
            "instance_uuid": row["instance_uuid"], "kind": row["kind"],
            "event": "%s/%s" % (payload["event"],
                                payload["vir_domain_event"]),
            "reason": row["reason"], "fence": row["fence"],
            "key": row["key"]}


def header(conf, settings, reloaded_at, pid):
    return {"hostname": conf.hostname, "pid": pid,
            "recovery_backend": conf.recovery.backend,
            "settings": {"interval": settings.interval,
                         "timeout": settings.timeout,
                         "threshold": settings.threshold,
                         "recovery_budget": settings.max_recoveries,
                         "fence_hung": settings.fence_hung,
                         "mode": settings.mode,
                         "reloaded_at": reloaded_at}}


def watchdog_line(engine, store):
    """systemd's one-line STATUS.  A store that cannot commit is said
    here, not by starving the watchdog: a restart would lose the changes
    it keeps in memory, and find the disk as full as before."""
    health = store.health()
    return "libvirt %s, %d domains, %d notifications pending%s%s" % (
        "connected" if engine.connected else "DISCONNECTED",
        len(engine.guests), store.depth(),
        ", HOST ALERT" if engine.storm.active else "",
        "" if health["writable"] else
        ", STATE STORE CANNOT COMMIT (%d unwritten)" % health["unwritten"])


def render(header, view, store, issued, now, overdue_after):
    """``header``: see header(); ``view``: the engine's; ``issued``: the
    prober's (planned, started) per guest."""
    pending = store.entries(store_mod.PENDING)
    entries = [entry_view(e, now, overdue_after)
               for e in pending + store.recent_final(RECENT_ENTRIES)]
    for domain in view["domains"]:
        delays = [started - planned for planned, started in
                  issued.get(domain["uuid"], ())]
        if delays:  # when a worker took the ping, after its planned slot
            domain["heartbeat_issue_delay_ms_max"] = round(
                max(delays) * 1000, 1)
    oldest = min((e["created_at"] for e in pending), default=None)
    return dict(header, **view, store=store.health(), outbox={
        "pending": len(pending),
        "overdue": sum(e["overdue"] for e in entries),
        "withdrawn": sum(e["state"] == store_mod.WITHDRAWN for e in entries),
        "oldest_pending_seconds": (0.0 if oldest is None else
                                   round(now - oldest, 1)),
        "entries": entries,
    }, would_recover={
        "count": store.would_recover_count(),
        "recent": [would_recover_view(row) for row in
                   store.would_recover(limit=RECENT_WOULD_RECOVER)],
    })
