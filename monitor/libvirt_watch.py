"""The libvirt connection: events in, observations out.

libvirt's *default* event implementation runs on one daemon thread
(``virEventRegisterDefaultImpl`` + ``virEventRunDefaultImpl``, as Nova
does), and every callback is handed to the asyncio loop with
``call_soon_threadsafe``.  Not libvirtaio: once registered it manages the
handles and timers of every connection of the process from the asyncio
loop, and it is not thread-safe, while libvirt's client updates its socket
watch from whichever thread makes an RPC; pings and listings run in worker
threads.

The connection is read-write (guest-agent commands need it), kept alive,
and reopened with a short bounded backoff whenever it closes: libvirtd
going away is never a reason to exit.  Events are not replayed after a
reconnect, so every (re)connect ends with a listing (``Connected``); the
domains whose events arrived while the listing ran are named in it, since
their events are newer than what the listing saw.
"""
import asyncio
import logging
import re
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import libvirt

from monitor import observations as obs
from monitor import threads

LOG = logging.getLogger(__name__)

AGENT_PORT = "org.qemu.guest_agent.0"
HOST_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
AGENT_CONNECTED = \
    libvirt.VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED
AGENT_CLOSED_BY_GUEST = \
    libvirt.VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_REASON_CHANNEL
CLOSE_REASONS = {
    libvirt.VIR_CONNECT_CLOSE_REASON_ERROR: "error",
    libvirt.VIR_CONNECT_CLOSE_REASON_EOF: "end of file",
    libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE: "keepalive timeout",
    libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT: "closed by client"}

STILL_AWAY_EVERY = 60.0  # seconds between two "still unavailable" lines
STATS_GROUPS = (libvirt.VIR_DOMAIN_STATS_BALLOON |
                libvirt.VIR_DOMAIN_STATS_CPU_TOTAL |
                libvirt.VIR_DOMAIN_STATS_STATE)
STATS_FLAGS = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
STATS_NOWAIT = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
# what qemuDomainGetStatsBalloon reports without the domain's job
BALLOON_WITHOUT_JOB = frozenset({"balloon.current", "balloon.maximum"})
MAX_STUCK_STATS = 2  # earlier stats calls still unanswered; no new one then
_EVENTS = threading.Lock()
_event_thread = None


def _ignore_libvirt_errors(_ctx, _err):
    """libvirt prints every error to stderr by default; we log our own."""


def register_error_handler():
    libvirt.registerErrorHandler(_ignore_libvirt_errors, None)


def start_event_loop():
    """Once per process, before the monitor's connection is opened."""
    global _event_thread
    with _EVENTS:
        if _event_thread is not None:
            return
        register_error_handler()
        libvirt.virEventRegisterDefaultImpl()
        _event_thread = threading.Thread(target=_run_events, daemon=True,
                                         name="libvirt-events")
        _event_thread.start()


def _run_events():
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except libvirt.libvirtError as exc:  # keep dispatching
            LOG.error("libvirt event loop: %s", exc)


def domain_facts(xml, sock_path_pattern=None):
    """(channel, agent connected, balloon stats period) from domain XML.

    The agent channel is found by its target name, as Nova defines it, or
    by its socket path matching masakari-monitors'
    ``qemu_guest_agent_sock_path``.  Its live state is None when libvirt
    does not say (a driver without one, an inactive domain).
    """
    root = ElementTree.fromstring(xml)
    channel, connected = False, None
    for device in root.findall("./devices/channel"):
        target, source = device.find("target"), device.find("source")
        path = source.get("path", "") if source is not None else ""
        if (target is not None and target.get("name") == AGENT_PORT) or (
                sock_path_pattern and path and
                re.fullmatch(sock_path_pattern, path)):
            channel = True
            state = target.get("state") if target is not None else None
            connected = {"connected": True,
                         "disconnected": False}.get(state)
    period = None
    stats = root.find("./devices/memballoon/stats")
    if stats is not None and stats.get("period"):
        period = int(stats.get("period"))
    return channel, connected, period


def is_local(uri):
    """A libvirt URI of this host (no host name in it)."""
    return not urllib.parse.urlsplit(uri).hostname


def host_boot_id(uri):
    """This host's boot id for a local URI (None for a remote host)."""
    if not is_local(uri):
        return None
    try:
        return HOST_BOOT_ID.read_text().strip()
    except OSError:
        return None


def list_domains(conn, sock_path_pattern=None):
    """Every domain and its handle (blocking: run in a worker)."""
    domains, handles = [], {}
    for dom in conn.listAllDomains():
        try:
            state, reason = dom.state()
            facts = domain_facts(dom.XMLDesc(0), sock_path_pattern)
        except libvirt.libvirtError:
            continue  # undefined while we listed
        uuid = dom.UUIDString()
        domains.append(obs.Domain(uuid, dom.name(), dom.ID(), state, reason,
                                  *facts))
        handles[uuid] = dom
    return tuple(domains), handles


class Watcher:
    """Keeps one connection open and posts what it sees to ``post``."""

    def __init__(self, uri, post, pool, keepalive=(2, 3), min_backoff=0.1,
                 max_backoff=0.5, call_timeout=30.0, sock_path_pattern=None,
                 stats_deadline=5.0):
        self.uri = uri
        self._post = post
        self._pool = pool
        self._keepalive = keepalive
        self._min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._timeout = call_timeout
        self._sock_path = sock_path_pattern
        self.stats_deadline = stats_deadline
        self._stats_nowait = True
        self._stats_calls = set()  # bulk stats calls not answered yet
        self._had_memory = set()  # uuids whose stats had memory figures
        self.conn = None
        self._callback_ids = []
        self._handles = {}  # uuid -> virDomain of the current connection
        self._running = set()  # uuids whose QEMU runs, as last told
        self._decided = set()  # lifecycle events while a listing runs
        self._listing = None  # uuids with events while a listing runs
        self._closed = None
        self._loop = None
        self._tasks = set()

    def domain(self, uuid):
        """The handle of a domain on the current connection, or None."""
        return self._handles.get(uuid)

    async def run(self):
        self._loop = asyncio.get_running_loop()
        start_event_loop()
        delay, away_since, told = self._min_backoff, None, None
        while True:
            try:
                await self._connect()
            except (libvirt.libvirtError, asyncio.TimeoutError) as exc:
                why = str(exc) or "no answer within %.0f s" % self._timeout
                self._teardown()
                self._post(obs.Disconnected(why))
                now = time.monotonic()
                away_since = away_since or now
                if told is None or now - told >= STILL_AWAY_EVERY:
                    told = now  # attempts go on every ~0.5 s; the log not
                    LOG.warning("libvirt %s unavailable for %.0f s (%s); "
                                "retrying every %.1f s", self.uri,
                                now - away_since, why, self.max_backoff)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            if away_since is not None:
                LOG.warning("libvirt %s is back after %.1f s", self.uri,
                            time.monotonic() - away_since)
            delay, away_since, told = self._min_backoff, None, None
            reason = await self._closed
            self._teardown()
            self._post(obs.Disconnected(reason))
            LOG.warning("libvirt connection closed (%s); reconnecting",
                        reason)

    async def poll_stats(self, interval):
        """One bulk statistics call each ``interval()`` seconds (None: not
        now, ask again in a second), posting ``GuestStats`` or
        ``StatsFailed``; see ``read_stats``."""
        loop = asyncio.get_running_loop()
        while True:
            period = interval()
            began = loop.time()
            if period is not None and self.conn is not None:
                await self.read_stats(min(self.stats_deadline, period))
            await asyncio.sleep(max(0.0, (period or 1.0) -
                                    (loop.time() - began)))

    async def read_stats(self, deadline=None):
        """One ``getAllDomainStats`` call that never waits on a stuck
        domain, and never keeps the poller waiting past ``deadline``.

        ``VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT`` (libvirt >= 4.5):
        libvirt's qemu driver then takes each domain's job with
        ``BeginJobNowait`` instead of waiting for it (up to 30 s), and
        ``qemuDomainGetStatsBalloon`` without the job adds only
        ``balloon.current`` and ``balloon.maximum``: the memory statistics
        (``balloon.last-update``, ``balloon.rss`` and the guest's own
        counters) come from ``qemuDomainMemoryStatsInternal``, which needs
        the job and QEMU's monitor.  ``state.*`` and ``cpu.time`` (from the
        cgroup) never need the job.  A libvirt that refuses the flag
        (VIR_ERR_INVALID_ARG from its flag check, or VIR_ERR_NO_SUPPORT) is
        asked without it from then on.

        ``busy`` marks a domain that is returned without any of those
        memory statistics although an earlier reading of it had some: its
        job was held (a migration, a snapshot, another stats call stuck on
        QEMU's monitor) or QEMU did not answer.  A domain that never had
        them (no balloon device and no local process: test drivers) is
        never busy.

        A call still unanswered at ``deadline`` posts
        ``StatsFailed(timed_out=True)`` and goes on in its worker; while
        ``MAX_STUCK_STATS`` earlier calls are still unanswered, no new one
        is started (``StatsFailed`` again).  A late answer is dropped (the
        next call reads newer values) but logged.
        """
        deadline = self.stats_deadline if deadline is None else deadline
        stuck = [call for call in self._stats_calls if not call.done()]
        if len(stuck) >= MAX_STUCK_STATS:
            self._post(obs.StatsFailed(
                "%d earlier statistics calls are still unanswered; no new "
                "one started" % len(stuck), timed_out=True))
            return
        call = self._pool.run(self._stats_blocking, self.conn)
        self._stats_calls.add(call)
        call.add_done_callback(self._stats_calls.discard)
        try:
            records, took = await threads.within(asyncio.shield(call),
                                                 deadline)
        except asyncio.TimeoutError:
            call.add_done_callback(self._stats_late)
            LOG.warning("Guest statistics: no answer from libvirt within "
                        "%.1f s; the call goes on in the background",
                        deadline)
            self._post(obs.StatsFailed(
                "no answer within %.1f s" % deadline, timed_out=True))
            return
        except libvirt.libvirtError as exc:
            LOG.warning("Guest statistics not read: %s", exc)
            self._post(obs.StatsFailed(str(exc) or "libvirt error"))
            return
        self._post(obs.GuestStats(self._domain_stats(records), took))

    def _stats_blocking(self, conn):
        """(records, seconds) of one bulk call (in a worker)."""
        started = time.monotonic()
        nowait = self._stats_nowait
        try:
            records = conn.getAllDomainStats(
                STATS_GROUPS, STATS_FLAGS | (STATS_NOWAIT if nowait else 0))
        except libvirt.libvirtError as exc:
            if not nowait or exc.get_error_code() not in (
                    libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
                raise
            self._stats_nowait = False
            LOG.warning("libvirt refused the NOWAIT flag of the bulk "
                        "statistics call (%s): asking without it, so a "
                        "busy domain can hold the call for up to 30 s", exc)
            records = conn.getAllDomainStats(STATS_GROUPS, STATS_FLAGS)
        return ([(dom.UUIDString(), values) for dom, values in records],
                time.monotonic() - started)

    def _domain_stats(self, records):
        stats, memory = [], set()
        for uuid, values in records:
            has_memory = any(key.startswith("balloon.") and
                             key not in BALLOON_WITHOUT_JOB
                             for key in values)
            busy = not has_memory and uuid in self._had_memory
            if has_memory or busy:
                memory.add(uuid)
            stats.append(obs.DomainStats(
                uuid, values.get("balloon.last-update"),
                values.get("cpu.time"), values.get("state.state"),
                values.get("state.reason"), busy))
        self._had_memory = memory  # domains not returned are forgotten
        return tuple(stats)

    @staticmethod
    def _stats_late(call):
        if call.cancelled():
            return
        if call.exception() is not None:
            LOG.warning("A late statistics call failed: %s",
                        call.exception())
        else:
            LOG.warning("A late statistics call answered after %.1f s "
                        "(dropped: a newer call reads newer values)",
                        call.result()[1])

    async def _call(self, fn, *args):
        return await threads.within(self._pool.run(fn, *args),
                                    self._timeout)

    async def _connect(self):
        self.conn = conn = await self._call(libvirt.open, self.uri)
        self._closed = self._loop.create_future()
        await self._call(self._register, conn)
        self._listing, self._decided = set(), set()
        try:
            domains, handles = await self._call(list_domains, conn,
                                                self._sock_path)
        finally:
            touched, self._listing = self._listing, None
        # a lifecycle event that arrived while the listing ran is newer
        running = {d.uuid for d in domains if d.dom_id != -1}
        for uuid in self._decided:
            handles.pop(uuid, None)
            running.discard(uuid)
            if uuid in self._handles:
                handles[uuid] = self._handles[uuid]
            if uuid in self._running:
                running.add(uuid)
        self._handles, self._running, self._decided = handles, running, set()
        self._post(obs.Connected(domains, host_boot_id(self.uri),
                                 frozenset(touched)))
        LOG.info("Connected to %s; %d domains", self.uri, len(domains))

    def _register(self, conn):
        try:
            conn.setKeepAlive(*self._keepalive)
        except libvirt.libvirtError:
            pass  # in-process drivers (test:///) have no keepalive
        conn.registerCloseCallback(self._on_close, None)
        self._callback_ids = [
            conn.domainEventRegisterAny(None, event, callback, None)
            for event, callback in (
                (libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle),
                (libvirt.VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON,
                 self._on_io_error),
                (libvirt.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
                 self._on_agent),
                (libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, self._on_reboot))]

    def _teardown(self):
        conn, self.conn = self.conn, None
        self._handles, self._running = {}, set()
        if conn is None:
            return
        for callback_id in self._callback_ids:
            try:
                conn.domainEventDeregisterAny(callback_id)
            except libvirt.libvirtError:
                pass
        self._callback_ids = []
        try:
            conn.unregisterCloseCallback()
        except libvirt.libvirtError:
            pass
        try:
            conn.close()
        except libvirt.libvirtError:
            pass

    def close(self):
        self._teardown()

    # -- on the loop ----------------------------------------------------------
    def _seen(self, dom, observation):
        uuid = observation.uuid
        if self._listing is not None:
            self._listing.add(uuid)
        if isinstance(observation, obs.Lifecycle):
            self._keep_handle(dom, uuid, observation.event)
            if observation.event == libvirt.VIR_DOMAIN_EVENT_STARTED:
                task = asyncio.ensure_future(self._describe(dom, uuid))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        self._post(observation)

    def _keep_handle(self, dom, uuid, event):
        """The handle map after one lifecycle event.

        Nova's live snapshot and volume swap undefine a *running* domain
        (it turns transient for the block job; QEMU keeps running) and
        define it again: UNDEFINED/REMOVED, later DEFINED/ADDED.  So an
        UNDEFINED drops the handle only of a domain whose QEMU is not
        running as last told (its last event, or the listing, said
        stopped or never started); a STOPPED drops it always, which also
        ends a domain undefined while it ran (and a transient domain,
        which gets no UNDEFINED).  A stopped domain has nothing to ping,
        and its next STARTED brings the handle back, so the map holds the
        running domains and those defined and not yet started, whatever
        the churn.
        """
        if self._listing is not None:
            self._decided.add(uuid)
        if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
            self._running.discard(uuid)
            self._handles.pop(uuid, None)
        elif event == libvirt.VIR_DOMAIN_EVENT_UNDEFINED:
            if uuid not in self._running:
                self._handles.pop(uuid, None)
        else:
            self._handles[uuid] = dom
            if event != libvirt.VIR_DOMAIN_EVENT_DEFINED:
                self._running.add(uuid)

    async def _describe(self, dom, uuid):
        try:
            xml = await self._call(dom.XMLDesc, 0)
        except (libvirt.libvirtError, asyncio.TimeoutError):
            return  # gone again, or the connection went: the listing tells
        channel, _, period = domain_facts(xml, self._sock_path)
        self._post(obs.Described(uuid, channel, period))

    def _closed_on_loop(self, reason):
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(reason)

    # -- libvirt's event thread: hand over and return -------------------------
    def _hand_over(self, *args):
        try:
            self._loop.call_soon_threadsafe(*args)
        except RuntimeError:  # the loop is closed: the monitor stopped
            pass

    def _on_close(self, _conn, reason, _opaque):
        self._hand_over(self._closed_on_loop,
                        CLOSE_REASONS.get(reason, str(reason)))

    def _on_lifecycle(self, _conn, dom, event, detail, _opaque):
        self._hand_over(self._seen, dom, obs.Lifecycle(
            dom.UUIDString(), dom.name(), event, detail, dom.ID(),
            time.perf_counter()))

    def _on_io_error(self, _conn, dom, _src, _dev, action, _reason, _opaque):
        self._hand_over(self._seen, dom, obs.IoError(
            dom.UUIDString(), dom.name(), action))

    def _on_agent(self, _conn, dom, state, reason, _opaque):
        self._hand_over(self._seen, dom, obs.AgentLifecycle(
            dom.UUIDString(), dom.name(), state == AGENT_CONNECTED,
            reason == AGENT_CLOSED_BY_GUEST))

    def _on_reboot(self, _conn, dom, _opaque):
        self._hand_over(self._seen, dom, obs.Rebooted(dom.UUIDString(),
                                                      dom.name()))
