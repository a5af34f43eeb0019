"""The nova and libvirt backends' rules, case by case."""
import pytest

from monitor import recovery_plan as plan

DEATH = {"event": "LIFECYCLE", "vir_domain_event": "STOPPED_FAILED",
         "instance_uuid": "u"}
IO_ERROR = {"event": "IO_ERROR", "vir_domain_event": "IO_ERROR_REPORT",
            "instance_uuid": "u"}
HANG = {"event": "QEMU_GUEST_AGENT_ERROR",
        "vir_domain_event": "STOPPED_FAILED", "instance_uuid": "u"}


def server(vm_state="active", task_state=None, host="compute-1",
           ha="True"):
    return {"vm_state": vm_state, "task_state": task_state, "host": host,
            "metadata": {} if ha is None else {"HA_Enabled": ha}}


@pytest.mark.parametrize("payload,facts,outcome,steps,why", [
    (DEATH, server(), plan.ACT, (plan.STOP, plan.START), "vm_state active"),
    (IO_ERROR, server(), plan.ACT, (plan.STOP, plan.START), "QEMU"),
    (DEATH, server("stopped"), plan.ACT, (plan.START,), "stopped"),
    (DEATH, server("error"), plan.ACT,
     (plan.RESET_ACTIVE, plan.STOP, plan.START), "error"),
    (HANG, server(), plan.ACT, (plan.HARD_REBOOT,), "hung"),
    (DEATH, None, plan.REFUSE, (), "no longer exists"),
    (HANG, None, plan.REFUSE, (), "no longer exists"),
    (DEATH, server(ha=None), plan.REFUSE, (), "HA_Enabled"),
    (DEATH, server(ha="False"), plan.REFUSE, (), "HA_Enabled"),
    (HANG, server(ha="no"), plan.REFUSE, (), "HA_Enabled"),
    (DEATH, server(ha="yes"), plan.ACT, (plan.STOP, plan.START), "QEMU"),
    (DEATH, server(host="compute-2"), plan.REFUSE, (), "'compute-2'"),
    (HANG, server(host="compute-2"), plan.REFUSE, (), "now on host"),
    (DEATH, server(task_state="powering-off"), plan.WAIT, (),
     "powering-off"),
    (HANG, server(task_state="rebooting_hard"), plan.WAIT, (),
     "rebooting_hard"),
    (DEATH, server("stopped", task_state="powering-on"), plan.WAIT, (),
     "busy"),
    (HANG, server("stopped"), plan.REFUSE, (), "not rebooted"),
    (HANG, server("error"), plan.REFUSE, (), "vm_state error"),
    (DEATH, server("shelved_offloaded"), plan.REFUSE, (),
     "shelved_offloaded"),
    (DEATH, server("paused"), plan.REFUSE, (), "no restart"),
    (DEATH, server("deleted"), plan.REFUSE, (), "no restart"),
])
def test_nova_plan(payload, facts, outcome, steps, why):
    result = plan.nova_plan(payload, facts, "compute-1")
    assert (result.outcome, result.steps) == (outcome, steps)
    assert why in result.why


@pytest.mark.parametrize("payload,state,persistent,outcome,steps,why", [
    (DEATH, "shutoff", True, plan.ACT, (plan.CREATE,), "gone"),
    (IO_ERROR, "shutoff", True, plan.ACT, (plan.CREATE,), "gone"),
    (DEATH, "shutoff", False, plan.REFUSE, (), "transient"),
    (DEATH, "running", True, plan.REFUSE, (), "running again"),
    (DEATH, "paused", True, plan.REFUSE, (), "paused"),
    (DEATH, None, True, plan.REFUSE, (), "no such domain"),
    (HANG, "running", True, plan.ACT, (plan.DESTROY, plan.CREATE), "hung"),
    (HANG, "running", False, plan.ACT, (plan.RESET,), "transient"),
    (HANG, "shutoff", True, plan.REFUSE, (), "not reset"),
    (HANG, "paused", True, plan.REFUSE, (), "now paused"),
    (HANG, None, False, plan.REFUSE, (), "no such domain"),
])
def test_libvirt_plan(payload, state, persistent, outcome, steps, why):
    result = plan.libvirt_plan(payload, state, persistent)
    assert (result.outcome, result.steps) == (outcome, steps)
    assert why in result.why
