"""The host stall rules, as a table."""
import dataclasses

import pytest

from monitor import engine
from monitor import stall

S = engine.Settings()  # the shipped thresholds


@pytest.mark.parametrize("facts,reason", [
    (stall.Facts(), None),
    (stall.Facts(pressure=(("memory", "full", 9.9),)), None),
    (stall.Facts(pressure=(("memory", "full", 10.0),)),
     "memory pressure: PSI full avg10 10.0 % (limit 10 %)"),
    (stall.Facts(pressure=(("memory", "some", 80.0),)), None),
    (stall.Facts(pressure=(("io", "full", 31.0),)),
     "io pressure: PSI full avg10 31.0 % (limit 30 %)"),
    # CPU pressure is off by default: busy guests answer all the same
    (stall.Facts(pressure=(("cpu", "some", 95.0),)), None),
    (stall.Facts(loop_lag=1.9), None),
    (stall.Facts(loop_lag=2.5),
     "the monitor's own event loop ran 2.5 s late"),
    (stall.Facts(stats_stuck="libvirt stuck"), "libvirt stuck"),
    # one stopped QEMU excuses its own guest only (engine), not the host
    (stall.Facts(qemu_impaired=1, running=1), None),
    (stall.Facts(qemu_impaired=2, running=4), None),
    (stall.Facts(qemu_impaired=3, running=4),
     "the QEMU processes of 3 of 4 running guests are stopped or blocked"),
    (stall.Facts(qemu_impaired=2, running=2),
     "the QEMU processes of 2 of 2 running guests are stopped or blocked"),
])
def test_judge(facts, reason):
    assert stall.judge(facts, S) == reason


def test_a_threshold_of_zero_turns_a_rule_off():
    off = dataclasses.replace(S, stall_memory_full=0, stall_loop_lag=0)
    assert stall.judge(stall.Facts(pressure=(("memory", "full", 99.0),),
                                   loop_lag=60.0), off) is None


def test_cpu_pressure_counts_when_asked_for():
    on = dataclasses.replace(S, stall_cpu_some=90.0)
    assert stall.judge(stall.Facts(pressure=(("cpu", "some", 95.0),)),
                       on).startswith("cpu pressure")
