"""The restart budget: how many recoveries one VM may get per window.

A VM that keeps failing after each recovery (a broken image, a guest that
panics at boot) would otherwise be restarted forever.  Beyond
``max_recoveries`` within ``window`` seconds it is quarantined: no more
recoveries until the window has passed or an operator clears it.  Process
deaths and hangs count alike.  Pure: the caller persists ``record()``.
"""
from monitor import effects


class Budget:
    def __init__(self, max_recoveries, window, recoveries=None,
                 quarantined=None):
        self.max_recoveries = max_recoveries
        self.window = window
        self.recoveries = {u: list(t) for u, t in (recoveries or {}).items()}
        self.quarantined = dict(quarantined or {})  # uuid -> since

    def _recent(self, uuid, now):
        recent = [t for t in self.recoveries.get(uuid, [])
                  if t > now - self.window]
        if recent:
            self.recoveries[uuid] = recent
        else:
            self.recoveries.pop(uuid, None)
            self.quarantined.pop(uuid, None)  # the window has passed
        return recent

    def spend(self, uuid, now):
        """True when a recovery is allowed now (and counts it); False when
        the VM is (now) quarantined."""
        recent = self._recent(uuid, now)
        if uuid in self.quarantined or len(recent) >= self.max_recoveries:
            self.quarantined.setdefault(uuid, now)
            return False
        self.recoveries.setdefault(uuid, []).append(now)
        return True

    def expired(self, now):
        """VMs whose recoveries all left the window: forgotten now."""
        gone = [uuid for uuid in list(self.recoveries) + list(
            self.quarantined) if not self._recent(uuid, now)]
        return sorted(set(gone))

    def why_quarantined(self):
        return "quarantined: %d recoveries within %.0f s; 'instanceha-" \
               "monitor clear-quarantine' allows more" % (
                   self.max_recoveries, self.window)

    def clear(self, uuid):
        """An operator's word: the VM may be recovered again."""
        found = uuid in self.quarantined
        self.quarantined.pop(uuid, None)
        self.recoveries.pop(uuid, None)
        return found

    def shift(self, delta):
        """The wall clock stepped: every time moves with it (a window
        keeps its length); the changed budgets, for the store."""
        for uuid, times in self.recoveries.items():
            self.recoveries[uuid] = [t + delta for t in times]
        for uuid in self.quarantined:
            self.quarantined[uuid] += delta
        return [self.record(uuid) for uuid in
                sorted(set(self.recoveries) | set(self.quarantined))]

    def record(self, uuid):
        return effects.PutBudget(uuid, tuple(self.recoveries.get(uuid, ())),
                                 self.quarantined.get(uuid))
