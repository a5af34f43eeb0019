"""Delivers the outbox to the recovery backend until each entry is final.

Runs on the event loop; each POST runs in a worker thread so a slow or
unreachable backend never blocks libvirt events.  Nothing is dropped:
entries without a final answer are retried with jittered exponential
backoff for as long as it takes, across restarts (they are on disk).
"""
import asyncio
import logging
import random as _random

from monitor import outbox as _outbox

LOG = logging.getLogger(__name__)

PARALLEL_SENDS = 4


class Answer:
    """A backend's answer to one outbox entry, in HTTP terms because the
    outbox classifies by them: 2xx done, 400/409 final refusal, anything
    else (None: no answer) retried."""

    def __init__(self, status_code, detail, notification_uuid=None):
        self.status_code = status_code
        self.detail = detail
        self.notification_uuid = notification_uuid


class Delivery:
    def __init__(self, outbox, send, clock, metrics, base_delay, max_delay,
                 random=_random.random, peer="Masakari"):
        self._outbox = outbox
        self._send = send
        self._clock = clock
        self._metrics = metrics
        self._base = base_delay
        self._cap = max_delay
        self._random = random
        self._peer = peer
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(PARALLEL_SENDS)

    def wake(self):
        self._wake.set()

    async def run(self):
        while True:
            self._wake.clear()
            due = self._outbox.due()
            if due:
                await asyncio.gather(*(self._deliver(e) for e in due))
                continue
            self._metrics.outbox_depth.set(self._outbox.depth())
            next_at = self._outbox.next_due_at()
            timeout = None if next_at is None else max(
                0.0, next_at - self._clock())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def _deliver(self, entry):
        async with self._slots:
            answer = await asyncio.get_running_loop().run_in_executor(
                None, self._send, entry["body"])
        delay = _outbox.backoff(entry["attempts"] + 1, self._base, self._cap,
                                self._random)
        state = self._outbox.record(entry["id"], answer.status_code,
                                    answer.detail, delay,
                                    answer.notification_uuid)
        self._metrics.notifications.labels(state).inc()
        payload = entry["body"]["payload"]
        what = "%s %s/%s" % (payload["instance_uuid"], payload["event"],
                             payload["vir_domain_event"])
        if state == _outbox.ACCEPTED:
            self._metrics.delivery_latency.observe(
                self._clock() - entry["created_at"])
            LOG.info("%s accepted %s (%s)", self._peer, what,
                     answer.notification_uuid or answer.detail)
        elif state == _outbox.REJECTED:
            if answer.status_code == 400 and "host" in answer.detail.lower():
                LOG.error("Configuration error: %s refused %s: %s. Is "
                          "[DEFAULT] hostname = %s registered as a Masakari "
                          "host?", self._peer, what, answer.detail,
                          entry["body"]["hostname"])
            else:
                LOG.warning("%s refused %s for good: %s", self._peer, what,
                            answer.detail)
        else:
            LOG.warning("Delivery of %s failed (attempt %d, next in %.1f s):"
                        " %s", what, entry["attempts"] + 1, delay,
                        answer.detail)
