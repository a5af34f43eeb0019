"""Runs the monitor in-process on libvirt's test:///default driver.

All monitors of a test session share one asyncio loop in a background
thread (and libvirt's one event thread); the tests drive libvirt from their
own thread, as another client would.
"""
import argparse
import asyncio
import threading
import time
import uuid

import libvirt

from monitor import cmd
from monitor import delivery
from monitor import libvirt_watch
from monitor import service
from monitor import store
from tools.lab import domain

_LOOP = None


class LoopThread:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever,
                                       daemon=True)
        self.thread.start()
        libvirt_watch.start_event_loop()

    def run(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            timeout)

    def call(self, func, *args):
        async def wrapper():
            return func(*args)
        return self.run(wrapper())


def loop_thread():
    global _LOOP
    if _LOOP is None:
        _LOOP = LoopThread()
    return _LOOP


def load_conf(path):
    return cmd.load_config(argparse.Namespace(config_file=[str(path)],
                                              config_dir=None))


def write_conf(tmp_path, text=""):
    path = tmp_path / "instanceha-monitor.conf"
    path.write_text(
        "[DEFAULT]\nstate_path = %s\n%s\n" % (tmp_path / "state", text)
        if "[DEFAULT]" not in text else text)
    return path


class Recorder:
    """Stands in for Masakari: accepts and keeps what it got."""

    def __init__(self):
        self.bodies = []

    def __call__(self, body):
        self.bodies.append(body)
        return delivery.accepted("accepted", "n-%d" % len(self.bodies))


def domain_view(monitor, dom):
    """One domain of the monitor's status ({} until it saw it).  Runs on
    the monitor's loop (inside wait_for) or from the test."""
    engine = monitor.monitor.engine
    guest = engine.guests.get(dom.UUIDString())
    return {} if guest is None else engine._domain_view(
        guest, monitor.monitor.clock())


def running_boots(monitor):
    """UUIDs of the domains the monitor knows running (with a boot)."""
    return {uuid for uuid, guest in monitor.monitor.engine.guests.items()
            if guest.boot is not None}


class RunningMonitor:
    """A Monitor on the shared loop; ``stop`` is a clean SIGTERM-like stop."""

    def __init__(self, conf, send=None, wait_connected=True):
        self.loop = loop_thread()
        self.monitor = self.loop.call(lambda: service.Monitor(conf,
                                                              send=send))
        self._stop = self.loop.call(asyncio.Event)
        self.task = asyncio.run_coroutine_threadsafe(
            self.monitor.run(self._stop), self.loop.loop)
        if wait_connected:
            self.wait_for(lambda: self.monitor.engine.connected)

    def status(self):
        return self.loop.call(self.monitor.status)

    def inject(self, dom_name, event, detail):
        """Deliver a lifecycle event through the callback libvirt uses, from
        another thread as libvirt's event thread does, for events the test
        driver cannot produce (a QEMU process dying)."""
        watcher = self.monitor.watcher
        dom = watcher.conn.lookupByName(dom_name)
        watcher._on_lifecycle(watcher.conn, dom, event, detail, None)

    def agent_connects(self, dom):
        """The guest agent's port opens (an AGENT_LIFECYCLE event): with a
        test-driver domain whose pings always fail, a hung guest."""
        watcher = self.monitor.watcher
        handle = watcher.conn.lookupByName(dom.name())
        self.wait_for(lambda: dom.UUIDString() in running_boots(self))
        watcher._on_agent(watcher.conn, handle, libvirt_watch.AGENT_CONNECTED,
                          0, None)

    def observe(self, observation):
        """Post an observation as an adapter would, on the loop."""
        self.loop.call(self.monitor.observe, observation)

    def process_dies(self, *doms):
        """The QEMU process of each domain dies (STOPPED/FAILED), once the
        monitor has seen them running."""
        uuids = {dom.UUIDString() for dom in doms}
        self.wait_for(lambda: uuids <= running_boots(self))
        for dom in doms:
            self.inject(dom.name(), libvirt.VIR_DOMAIN_EVENT_STOPPED,
                        libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED)

    def wait_for(self, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.loop.call(predicate):
                return
            if self.task.done():
                self.task.result()
            time.sleep(0.02)
        raise AssertionError("condition not met within %s s" % timeout)

    def entries(self, state=None):
        return self.loop.call(self.monitor.store.entries, state)

    def stop(self):
        self.loop.loop.call_soon_threadsafe(self._stop.set)
        self.task.result(20)


def one_death_delivered(conf, dom):
    """A monitor on ``conf`` sees ``dom``'s QEMU process die and delivers
    its notification; the status entry, after a clean stop."""
    monitor = RunningMonitor(conf)
    try:
        monitor.process_dies(dom)
        monitor.wait_for(lambda: monitor.monitor.store.entries(
            store.ACCEPTED), timeout=30)
        entry, = monitor.status()["outbox"]["entries"]
    finally:
        monitor.stop()
    return entry


# A guest-agent channel: the test driver keeps it, and answers every agent
# command with "not supported" (a guest whose agent never answers).
AGENT_CHANNEL = ("<channel type='unix'><source mode='bind' "
                 "path='/tmp/instanceha-test-agent.sock'/><target "
                 "type='virtio' name='org.qemu.guest_agent.0'/></channel>")


class TestDomains:
    """Domains of the shared test:///default driver, made and removed by one
    test (the driver's state is shared by the whole process)."""

    def __init__(self):
        libvirt_watch.register_error_handler()
        self.conn = libvirt.open("test:///default")
        self.made = []

    def create(self, count=1, devices="", uuids=()):
        """``uuids``: the first domains get these (a real server's id)."""
        doms = []
        uuids = list(uuids)
        for index in range(max(count, len(uuids))):
            name = "instance-%s" % uuid.uuid4().hex[:8]
            dom = self.conn.defineXML(
                "<domain type='test'><name>%s</name><uuid>%s</uuid>"
                "<memory>65536</memory><vcpu>1</vcpu>"
                "<os><type>hvm</type></os><devices>%s</devices></domain>"
                % (name, uuids[index] if index < len(uuids)
                   else uuid.uuid4(), devices))
            dom.create()
            self.made.append(dom)
            doms.append(dom)
        return doms

    def cleanup(self):
        for dom in self.made:
            domain.remove(dom)
        self.conn.close()
