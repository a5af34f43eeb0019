"""What the nova and libvirt backends do for one recovery: pure rules.

Given what Nova (or libvirt) says about the instance now, a recovery either
acts (a list of steps), waits (someone else is acting on it: try again
later) or refuses for good (acting would be wrong: the server is gone, has
moved, is not HA-enabled, or is in a state no restart fixes).  These
answers map onto the outbox's three outcomes, so every backend keeps the
same delivery guarantees.
"""
import collections

from oslo_utils import strutils

ACT, WAIT, REFUSE = "act", "wait", "refuse"

# Nova server actions, in the order they are carried out
RESET_ACTIVE, STOP, START, HARD_REBOOT = (
    "reset-state active", "stop", "start", "hard reboot")
# libvirt domain actions
DESTROY, CREATE, RESET = "destroy", "create", "reset"

HANG_EVENT = "QEMU_GUEST_AGENT_ERROR"

Plan = collections.namedtuple("Plan", "outcome steps why")


def _refuse(why):
    return Plan(REFUSE, (), why)


def is_hang(payload):
    return payload["event"] == HANG_EVENT


def nova_plan(payload, server, hostname):
    """``server``: None when Nova does not know it, else a dict with
    vm_state, task_state, host and metadata (Nova's names)."""
    if server is None:
        return _refuse("the server no longer exists in Nova")
    if not strutils.bool_from_string(
            (server.get("metadata") or {}).get("HA_Enabled"), default=False):
        return _refuse("HA_Enabled is not set on the server")
    if server.get("host") != hostname:
        return _refuse("the server is now on host %r, not %r"
                       % (server.get("host"), hostname))
    if server.get("task_state"):
        return Plan(WAIT, (), "Nova is busy with the server (task_state "
                    "%s)" % server["task_state"])
    vm_state = server.get("vm_state")
    if is_hang(payload):
        if vm_state == "active":
            return Plan(ACT, (HARD_REBOOT,), "hung guest")
        return _refuse("hung guest in vm_state %s: not rebooted" % vm_state)
    steps = {"active": (STOP, START), "stopped": (START,),
             "error": (RESET_ACTIVE, STOP, START)}.get(vm_state)
    if steps is None:
        return _refuse("vm_state %s: no restart fixes it" % vm_state)
    return Plan(ACT, steps, "QEMU process gone, vm_state %s" % vm_state)


def libvirt_plan(payload, state, persistent):
    """``state``: None when libvirt has no such domain, else "running",
    "paused" or "shutoff" (anything not running counts as shut off)."""
    if state is None:
        return _refuse("libvirt has no such domain any more")
    if is_hang(payload):
        if state != "running":
            return _refuse("hung guest now %s: not reset" % state)
        if persistent:
            return Plan(ACT, (DESTROY, CREATE), "hung guest")
        return Plan(ACT, (RESET,), "hung guest (transient domain)")
    if state == "running":
        return _refuse("the domain is running again")
    if state == "paused":
        return _refuse("the domain is paused: someone is acting on it")
    if not persistent:
        return _refuse("transient domain: no definition left to start")
    return Plan(ACT, (CREATE,), "QEMU process gone")
