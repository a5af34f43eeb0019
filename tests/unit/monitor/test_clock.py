"""Wall-clock steps against the monotonic clock."""
import pytest

from monitor import clock


class Clocks:
    def __init__(self):
        self.wall, self.mono = 1_000_000.0, 50.0

    def advance(self, seconds, step=0.0):
        self.mono += seconds
        self.wall += seconds + step


@pytest.mark.parametrize("step,told", [
    (0.0, None), (1.9, None), (-1.9, None), (2.5, 2.5), (-3600.0, -3600.0)])
def test_a_step_is_the_difference_of_the_two_clocks(step, told):
    clocks = Clocks()
    watch = clock.StepWatch(lambda: clocks.wall, lambda: clocks.mono)
    assert watch.read() == (1_000_000.0, None)  # nothing to compare yet
    clocks.advance(30, step)
    now, stepped = watch.read()
    assert now == clocks.wall
    assert stepped == (pytest.approx(told) if told is not None else None)
    clocks.advance(30)
    assert watch.read()[1] is None  # measured from the new time on


def test_a_long_pause_of_both_clocks_is_no_step():
    clocks = Clocks()
    watch = clock.StepWatch(lambda: clocks.wall, lambda: clocks.mono)
    watch.read()
    clocks.advance(3600)  # a loop stalled for an hour: both moved
    assert watch.read()[1] is None
