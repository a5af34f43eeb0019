"""Steps of the wall clock, told from the monotonic clock.

Between two readings both clocks advance by the same amount, whatever
the loop did in between; NTP's slew changes the wall clock by at most
0.5 ms a second.  A difference above ``STEP`` seconds is a step (an NTP
step, an operator's ``date -s``, a VM resumed with an old clock), posted
as ``ClockStepped`` before the observation that read the clock.
"""
import time

STEP = 2.0


class StepWatch:
    """``read()`` -> (wall-clock time, step in seconds or None)."""

    def __init__(self, wall=time.time, monotonic=time.monotonic, step=STEP):
        self._wall, self._monotonic, self.step = wall, monotonic, step
        self._last = None

    def read(self):
        wall, mono = self._wall(), self._monotonic()
        stepped = None
        if self._last is not None:
            delta = (wall - self._last[0]) - (mono - self._last[1])
            if abs(delta) > self.step:
                stepped = delta
        self._last = wall, mono
        return wall, stepped
