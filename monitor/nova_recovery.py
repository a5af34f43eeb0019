"""The nova backend: recover through the compute API, for clouds without
Masakari.  Runs in a delivery worker thread, one outbox entry at a time.

Each attempt reads the server first and follows ``recovery_plan``, so a
retry resumes where Nova is (a stop that finished meanwhile is not asked
for again) and nothing is done to a server that moved, was deleted or lost
HA_Enabled since the failure.  The wait for the stop is openstacksdk's
``wait_for_server``, bounded by ``nova_action_timeout``; every request in
it has the ``[api]`` timeouts.
"""
from openstack import exceptions as sdk_exc

from monitor import delivery
from monitor import recovery_plan as plan_mod
from monitor.masakari import describe

POLL_SECONDS = 2


def server_facts(server):
    return {"vm_state": server.vm_state, "task_state": server.task_state,
            "host": server.compute_host, "metadata": server.metadata or {}}


class NovaRecovery:
    def __init__(self, connect, action_timeout):
        self._connect = connect
        self._timeout = action_timeout

    def __call__(self, body):
        payload = body["payload"]
        uuid = payload["instance_uuid"]
        try:
            compute = self._connect().compute
            plan = plan_mod.nova_plan(payload, self._facts(compute, uuid),
                                      body["hostname"])
            if plan.outcome == plan_mod.REFUSE:
                return delivery.rejected(plan.why)
            if plan.outcome == plan_mod.WAIT:
                return delivery.retry(plan.why)
            for step in plan.steps:
                if not self._do(compute, uuid, step):
                    return delivery.retry(
                        "Nova did not finish the %s within %d s; the "
                        "recovery resumes from Nova's state" % (
                            step, self._timeout))
        except sdk_exc.NotFoundException:
            return delivery.rejected("the server no longer exists in Nova")
        except Exception as exc:  # Nova's 409/5xx, no answer: all retried
            return delivery.retry(describe(exc))
        return delivery.accepted("Nova: %s requested (%s)" % (
            ", ".join(plan.steps), plan.why))

    @staticmethod
    def _facts(compute, uuid):
        try:
            return server_facts(compute.get_server(uuid))
        except sdk_exc.NotFoundException:
            return None

    def _do(self, compute, uuid, step):
        if step == plan_mod.RESET_ACTIVE:
            compute.reset_server_state(uuid, "active")
        elif step == plan_mod.STOP:
            compute.stop_server(uuid)
            return self._wait_stopped(compute, uuid)
        elif step == plan_mod.START:
            compute.start_server(uuid)
        elif step == plan_mod.HARD_REBOOT:
            compute.reboot_server(uuid, "HARD")
        return True

    def _wait_stopped(self, compute, uuid):
        try:
            compute.wait_for_server(compute.get_server(uuid),
                                    status="SHUTOFF", failures=["ERROR"],
                                    interval=POLL_SECONDS,
                                    wait=self._timeout)
        except sdk_exc.ResourceTimeout:
            return False
        return True
