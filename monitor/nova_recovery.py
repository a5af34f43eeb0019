"""The nova backend: recover through the compute API, for clouds without
Masakari.  Runs in a delivery worker thread, one outbox entry at a time.

Each attempt reads the server first and follows ``recovery_plan``, so a
retry resumes where Nova is (a stop that finished meanwhile is not asked
for again) and nothing is done to a server that moved, was deleted or lost
HA_Enabled since the failure.
"""
import time

from openstack import exceptions as sdk_exc

from monitor import recovery_plan as plan_mod
from monitor.delivery import Answer
from monitor.masakari import describe

POLL_SECONDS = 2.0


def server_facts(server):
    return {"vm_state": server.vm_state, "task_state": server.task_state,
            "host": server.compute_host, "metadata": server.metadata or {}}


class NovaRecovery:
    def __init__(self, connect, action_timeout, clock=time.monotonic,
                 sleep=time.sleep):
        self._connect = connect
        self._timeout = action_timeout
        self._clock = clock
        self._sleep = sleep

    def __call__(self, body):
        payload = body["payload"]
        uuid = payload["instance_uuid"]
        try:
            compute = self._connect().compute
            plan = plan_mod.nova_plan(payload, self._facts(compute, uuid),
                                      body["hostname"])
            if plan.outcome == plan_mod.REFUSE:
                return Answer(409, plan.why)
            if plan.outcome == plan_mod.WAIT:
                return Answer(None, plan.why)
            for step in plan.steps:
                if not self._do(compute, uuid, step):
                    return Answer(None, "Nova did not finish the %s within "
                                  "%d s; the recovery resumes from Nova's "
                                  "state" % (step, self._timeout))
        except sdk_exc.NotFoundException:
            return Answer(409, "the server no longer exists in Nova")
        except Exception as exc:  # Nova's 409/5xx, no answer: all retried
            return Answer(None, describe(exc))
        return Answer(202, "Nova: %s requested (%s)" % (
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
        deadline = self._clock() + self._timeout
        while True:
            facts = server_facts(compute.get_server(uuid))
            if facts["vm_state"] == "stopped" and not facts["task_state"]:
                return True
            if self._clock() >= deadline:
                return False
            self._sleep(POLL_SECONDS)
