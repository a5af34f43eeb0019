"""The libvirt backend: a KVM host without OpenStack restarts its own
domains.  Runs in a delivery worker thread with a connection of its own,
so a slow libvirt call never holds the event loop."""
import libvirt

from monitor import delivery
from monitor import recovery_plan as plan_mod

_RUNNING = (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED)
_PAUSED = (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PMSUSPENDED)


def state_name(state):
    if state in _RUNNING:
        return "running"
    return "paused" if state in _PAUSED else "shutoff"


class LibvirtRecovery:
    def __init__(self, uri):
        self._uri = uri

    def __call__(self, body):
        payload = body["payload"]
        try:
            conn = libvirt.open(self._uri)
        except libvirt.libvirtError as exc:
            return delivery.retry("cannot open %s: %s" % (self._uri, exc))
        try:
            dom = self._lookup(conn, payload["instance_uuid"])
            plan = plan_mod.libvirt_plan(
                payload, None if dom is None else state_name(dom.state()[0]),
                dom is not None and dom.isPersistent())
            if plan.outcome == plan_mod.REFUSE:
                return delivery.rejected(plan.why)
            for step in plan.steps:
                {plan_mod.DESTROY: dom.destroy, plan_mod.CREATE: dom.create,
                 plan_mod.RESET: lambda: dom.reset(0)}[step]()
        except libvirt.libvirtError as exc:  # retried, from the new state
            return delivery.retry("libvirt: %s" % exc)
        finally:
            conn.close()
        return delivery.accepted("libvirt: %s done (%s)" % (
            ", ".join(plan.steps), plan.why))

    @staticmethod
    def _lookup(conn, uuid):
        try:
            return conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise
