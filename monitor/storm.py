"""The storm guard: when many guests fail at once, suspect the host.

Recovering every guest of a sick host (a saturated disk, a stuck NFS
mount, a kernel problem) on that same host helps none of them.  When more
than ``fraction`` of at least ``min_guests`` monitored guests fail at
once, the host is suspect: one alert, and no hang recovery until it
clears; hangs still present then are sent.  Pure.
"""


class StormGuard:
    def __init__(self, fraction, min_guests):
        self.fraction = fraction
        self.min_guests = min_guests
        self.reason = None  # set while the host is suspect

    @property
    def active(self):
        return self.reason is not None

    def update(self, monitored, failing):
        """'begin', 'end' or None, after counting the guests again."""
        share = failing / monitored if monitored else 0.0
        storm = monitored >= self.min_guests and share > self.fraction
        if storm == self.active:
            return None
        text = "%.0f %% of %d monitored guests failing at once" % (
            share * 100, monitored)
        if storm:
            self.reason = text + ": suspect the host, not the guests"
            return "begin"
        self.reason = None
        self.last_end = "storm over: " + text
        return "end"
