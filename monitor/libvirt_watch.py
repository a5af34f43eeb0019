"""The libvirt connection: events on the asyncio loop, reconnect, reconcile.

libvirt's own event loop runs on asyncio (libvirtaio), so callbacks arrive
on the monitor's loop.  Blocking calls (open, list, state) run in worker
threads.  The connection is read-write (guest-agent commands need it), kept
alive, and reopened with backoff whenever it closes: libvirtd going away is
never a reason to exit.  Events are not replayed after a reconnect, so every
(re)connect ends with a reconcile that lists the domains again.
"""
import asyncio
import logging
import xml.etree.ElementTree as ElementTree

import libvirt
import libvirtaio

from monitor import events

LOG = logging.getLogger(__name__)

_EVENT_IMPL_REGISTERED = False


def _ignore_libvirt_errors(_ctx, _err):
    """libvirt prints every error to stderr by default; we log our own."""


def register_error_handler():
    libvirt.registerErrorHandler(_ignore_libvirt_errors, None)


def register_event_impl(loop):
    global _EVENT_IMPL_REGISTERED
    if not _EVENT_IMPL_REGISTERED:
        register_error_handler()
        libvirtaio.virEventRegisterAsyncIOImpl(loop=loop)
        _EVENT_IMPL_REGISTERED = True


AGENT_PORT = "org.qemu.guest_agent.0"


def agent_channel_state(domain_xml):
    """None without a guest-agent channel, else its live state.

    The channel is found by its target name, as Nova defines it; the socket
    path (masakari-monitors' qemu_guest_agent_sock_path) is not needed.
    """
    root = ElementTree.fromstring(domain_xml)
    for target in root.findall("./devices/channel/target"):
        if target.get("name") == AGENT_PORT:
            return target.get("state") or "disconnected"
    return None


def domain_states(conn):
    """Every domain with its state, and the handles (blocking: run in a
    thread)."""
    states, handles = {}, {}
    for dom in conn.listAllDomains():
        try:
            state, reason = dom.state()
            agent = agent_channel_state(dom.XMLDesc(0))
        except libvirt.libvirtError:
            continue  # undefined while we listed
        uuid = dom.UUIDString()
        states[uuid] = events.DomainState(uuid, dom.name(), dom.ID(), state,
                                          reason, agent)
        handles[uuid] = dom
    return states, handles


class Watcher:
    """Keeps one connection open and feeds the handler.

    ``handler`` has ``lifecycle(dom, event, detail)``,
    ``io_error(dom, action)``, ``agent_lifecycle(dom, state, reason)``,
    ``rebooted(dom)``, ``reconciled(states, handles)`` and
    ``connection_changed(connected, error)``.
    """

    def __init__(self, uri, handler, keepalive_interval=5,
                 keepalive_count=3, min_backoff=0.5, max_backoff=30.0):
        self.uri = uri
        self._handler = handler
        self._keepalive = (keepalive_interval, keepalive_count)
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self.conn = None
        self._closed = None

    async def run(self):
        loop = asyncio.get_running_loop()
        register_event_impl(loop)
        delay = self._min_backoff
        while True:
            try:
                await self._connect(loop)
            except libvirt.libvirtError as exc:
                self._handler.connection_changed(False, str(exc))
                LOG.warning("libvirt %s unavailable (%s); retrying in "
                            "%.1f s", self.uri, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            delay = self._min_backoff
            reason = await self._closed
            self._teardown()
            self._handler.connection_changed(False, reason)
            LOG.warning("libvirt connection closed (%s); reconnecting",
                        reason)

    async def _connect(self, loop):
        conn = await loop.run_in_executor(None, libvirt.open, self.uri)
        self._closed = loop.create_future()
        try:
            conn.setKeepAlive(*self._keepalive)
        except libvirt.libvirtError:
            pass  # in-process drivers (test:///) have no keepalive
        conn.registerCloseCallback(self._on_close, None)
        self._callback_ids = [
            conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                self._on_lifecycle, None),
            conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON,
                self._on_io_error, None),
            conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
                self._on_agent, None),
            conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
                self._on_reboot, None),
        ]
        self.conn = conn
        try:
            states, handles = await loop.run_in_executor(
                None, domain_states, conn)
        except libvirt.libvirtError as exc:
            self._teardown()
            raise exc
        self._handler.connection_changed(True, None)
        self._handler.reconciled(states, handles)
        LOG.info("Connected to %s; %d domains", self.uri, len(states))

    def _teardown(self):
        conn, self.conn = self.conn, None
        if conn is None:
            return
        for callback_id in self._callback_ids:
            try:
                conn.domainEventDeregisterAny(callback_id)
            except libvirt.libvirtError:
                pass
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

    # -- callbacks, on the loop -------------------------------------------
    def _on_close(self, _conn, reason, _opaque):
        names = {libvirt.VIR_CONNECT_CLOSE_REASON_ERROR: "error",
                 libvirt.VIR_CONNECT_CLOSE_REASON_EOF: "end of file",
                 libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
                     "keepalive timeout",
                 libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT: "closed by client"}
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(names.get(reason, str(reason)))

    def _on_lifecycle(self, _conn, dom, event, detail, _opaque):
        self._handler.lifecycle(dom, event, detail)

    def _on_io_error(self, _conn, dom, _src, _dev, action, _reason, _opaque):
        self._handler.io_error(dom, action)

    def _on_agent(self, _conn, dom, state, reason, _opaque):
        self._handler.agent_lifecycle(dom, state, reason)

    def _on_reboot(self, _conn, dom, _opaque):
        self._handler.rebooted(dom)
