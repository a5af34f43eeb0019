"""Delivers the outbox to the recovery backend until each entry is final.

Every entry is its own attempt in its own worker thread, at most
``concurrency`` at once: a send that hangs until its HTTP timeout holds
one slot and delays no other entry.  Entries without a final answer are
retried with jittered exponential backoff (``retry_interval`` up to
``retry_max_interval``) for as long as it takes, across restarts (they are
on disk).  When the backend answers again (accepted or refused), every
entry waiting out a backoff is due at once, so an outage of any length
ends with all of them sent promptly.

In shadow mode (``enforcing()`` false) nothing is sent: the engine puts
no entry in the outbox then, and entries left from enforce mode wait,
still pending, until enforce mode is back.  The mode is asked again right
before each send.

Right before its send, in its worker, an entry is checked to be still
pending: one withdrawn meanwhile (the guest answered again, the domain
runs again in a newer boot) is not sent.  An answer is recorded before
the loop looks for due entries again, and one the store refuses to
record is kept and recorded later, never sent again.

A backend is any callable ``send(body) -> Outcome``; it runs in a worker
thread and tells, in its own terms, whether the recovery was accepted,
refused for good, or must be tried again.  Once an answer is recorded,
the engine is told (``Delivered``): a hang whose recovery was accepted
may be fenced.
"""
import asyncio
import concurrent.futures
import dataclasses
import logging
import random as _random

from monitor import observations as obs
from monitor import store as store_mod
from monitor import threads

LOG = logging.getLogger(__name__)

ACCEPTED, REJECTED, RETRY = "accepted", "rejected", "retry"
OUTCOMES = (ACCEPTED, REJECTED, RETRY)
_STATE = {ACCEPTED: store_mod.ACCEPTED, REJECTED: store_mod.REJECTED,
          RETRY: store_mod.PENDING}
# With nothing else to wake it, the worker looks again this often (for
# the overdue warning).
IDLE_WAKE = 60.0
# Right before a send, its worker waits this long for the loop to say the
# entry is still pending; without an answer it does not send.
CHECK_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class Outcome:
    kind: str  # ACCEPTED, REJECTED (final) or RETRY
    detail: str
    notification_uuid: str | None = None
    config_error: bool = False  # a refusal the operator must fix


def accepted(detail, notification_uuid=None):
    return Outcome(ACCEPTED, detail, notification_uuid)


def rejected(detail, config_error=False):
    return Outcome(REJECTED, detail, config_error=config_error)


def retry(detail):
    return Outcome(RETRY, detail)


def backoff(attempts, base, cap, random):
    """Delay before the next attempt: full jitter over base * 2**n, capped.

    ``random`` returns a float in [0, 1); injected so tests are exact.
    """
    ceiling = min(cap, base * (2 ** max(attempts - 1, 0)))
    return ceiling * random()


class Delivery:
    def __init__(self, store, send, clock, metrics, pool, base_delay,
                 max_delay, overdue_after, random=_random.random,
                 peer="Masakari", post=None, enforcing=lambda: True):
        """``post``: where ``Delivered`` goes (the engine), if anywhere;
        ``enforcing()``: False in shadow mode (nothing is sent)."""
        self.enforcing = enforcing
        self._store = store
        self._send = send
        self._clock = clock
        self._metrics = metrics
        self._pool = pool
        self._base = base_delay
        self._cap = max_delay
        self.overdue_after = overdue_after
        self._random = random
        self._peer = peer
        self._post = post
        self._wake = asyncio.Event()
        self._inflight = {}  # key -> task
        self._overdue = set()  # keys already reported overdue
        # key -> [retry at, tries, record() args, entry, outcome, delay]:
        # answers the store refused to record
        self._unrecorded = {}

    def wake(self):
        self._wake.set()

    async def run(self):
        try:
            while True:
                self._wake.clear()
                self._record_again()
                free = self._pool.size - len(self._inflight)
                if free > 0 and self.enforcing():
                    for entry in self._store.due(free, self._busy()):
                        self._inflight[entry["key"]] = asyncio.ensure_future(
                            self._attempt(entry))
                self._report_overdue()
                try:
                    await threads.within(self._wake.wait(), self._next_wake())
                except asyncio.TimeoutError:
                    pass
        finally:
            for task in self._inflight.values():
                task.cancel()  # the entries stay pending on disk

    def _busy(self):
        """Keys not to start now: in flight, or answered and not yet
        recorded."""
        return self._inflight.keys() | self._unrecorded.keys()

    def _next_wake(self):
        now = self._clock()
        times = [now + IDLE_WAKE]
        times.extend(again[0] for again in self._unrecorded.values())
        if len(self._inflight) < self._pool.size and self.enforcing():
            due = self._store.next_due_at(self._busy())
            if due is not None:
                times.append(due)
        return max(0.0, min(times) - now)

    async def _attempt(self, entry):
        """One send, its outcome recorded before the loop looks for due
        entries again (woken first, it found the entry still pending and
        sent it again: thousands of sends of one incident)."""
        loop = asyncio.get_running_loop()
        try:
            try:
                outcome = await self._pool.run(self._send_if_pending, loop,
                                               entry)
            except Exception as exc:  # a backend bug: logged, tried again
                LOG.exception("Recovery backend failed on %s", entry["key"])
                outcome = retry("%s: %s" % (type(exc).__name__, exc))
            if outcome is None:
                LOG.info("Notification %s is no longer pending (withdrawn, "
                         "answered meanwhile, or shadow mode): not sent",
                         entry["key"])
            else:
                self._finish(entry, outcome)
        finally:
            del self._inflight[entry["key"]]
            self._wake.set()

    def _send_if_pending(self, loop, entry):
        """In the worker, right before the send: the entry may have been
        withdrawn while it waited for due(), for this task or for a free
        worker.  None: not sent."""
        try:
            pending = self._ask_loop(loop, lambda: self.enforcing() and
                                     self._store.is_pending(entry["id"]))
        except Exception as exc:  # the loop is gone, stuck, or the store
            return retry("not sent: could not tell whether it is still "
                         "pending (%s: %s)" % (type(exc).__name__, exc))
        if not pending:  # withdrawn, answered, or shadow mode meanwhile
            return None
        return self._send(entry["body"])

    @staticmethod
    def _ask_loop(loop, func, *args):
        """``func(*args)`` run on the loop (the store belongs to it), from
        a worker thread."""
        answer = concurrent.futures.Future()

        def ask():
            if answer.set_running_or_notify_cancel():
                try:
                    answer.set_result(func(*args))
                except Exception as exc:
                    answer.set_exception(exc)

        loop.call_soon_threadsafe(ask)
        try:
            return answer.result(CHECK_TIMEOUT)
        finally:
            answer.cancel()  # too late: the loop no longer runs it

    def _finish(self, entry, outcome):
        delay = backoff(entry["attempts"] + 1, self._base, self._cap,
                        self._random)
        args = (entry["id"], _STATE[outcome.kind], outcome.detail, delay,
                outcome.notification_uuid)
        try:
            self._store.record(*args)
        except Exception:
            LOG.exception("Cannot record the outcome of %s (%s); it is "
                          "not sent again, recording is tried again",
                          entry["key"], outcome.kind)
            self._unrecorded[entry["key"]] = [
                self._clock() + self._base, 1, args, entry, outcome, delay]
            return
        self._recorded(entry, outcome, delay)

    def _record_again(self):
        """Outcomes the store refused, tried again with a doubling wait:
        never a send again, never a tight loop."""
        now = self._clock()
        for key, again in list(self._unrecorded.items()):
            retry_at, tries, args, entry, outcome, delay = again
            if retry_at > now:
                continue
            try:
                self._store.record(*args)
            except Exception as exc:
                LOG.debug("Recording %s failed again: %s", key, exc)
                again[0] = now + min(self._cap, self._base * 2 ** tries)
                again[1] = tries + 1
                continue
            del self._unrecorded[key]
            self._recorded(entry, outcome, delay)

    def _recorded(self, entry, outcome, delay):
        self._report(entry, outcome, delay)
        if self._post is not None:
            self._post(obs.Delivered(
                entry["key"], entry.get("instance_uuid") or
                entry["body"]["payload"]["instance_uuid"], outcome.kind))

    def _report(self, entry, outcome, delay):
        body = entry["body"]
        self._metrics.notifications.labels(outcome.kind).inc()
        payload = body["payload"]
        what = "%s %s/%s" % (payload["instance_uuid"], payload["event"],
                             payload["vir_domain_event"])
        if outcome.kind == RETRY:
            LOG.warning("Delivery of %s failed (attempt %d, next in %.1f s):"
                        " %s", what, entry["attempts"] + 1, delay,
                        outcome.detail)
            return
        self._overdue.discard(entry["key"])
        if outcome.kind == ACCEPTED:
            self._metrics.delivery_latency.observe(
                self._clock() - entry["created_at"])
            LOG.info("%s accepted %s (%s)", self._peer, what,
                     outcome.notification_uuid or outcome.detail)
        elif outcome.config_error:
            LOG.error("Configuration error: %s refused %s: %s. Is "
                      "[DEFAULT] hostname = %s registered as a Masakari "
                      "host?", self._peer, what, outcome.detail,
                      body["hostname"])
        else:
            LOG.warning("%s refused %s for good: %s", self._peer, what,
                        outcome.detail)
        woken = self._store.wake_all()  # it answers: nobody waits longer
        if woken:
            LOG.info("%s answers again: %d pending notifications are due "
                     "now", self._peer, woken)

    def _report_overdue(self):
        """One warning per entry pending longer than ``overdue_after``
        (masakari-monitors' retry_max x retry_interval, where it would
        have given up; this monitor goes on)."""
        limit = self._clock() - self.overdue_after
        for entry in self._store.entries(store_mod.PENDING):
            if entry["created_at"] < limit and \
                    entry["key"] not in self._overdue:
                self._overdue.add(entry["key"])
                LOG.warning("Notification %s is overdue: pending for %.0f s "
                            "after %d attempts (last error: %s); still "
                            "trying", entry["key"],
                            self._clock() - entry["created_at"],
                            entry["attempts"], entry["last_error"])
