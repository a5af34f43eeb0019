"""The recovery backend named by ``[recovery] backend``, as a callable
``send(body) -> delivery.Outcome`` for the delivery worker, and the cloud
connection the masakari and nova backends share (made on first use, from
worker threads)."""
import asyncio
import logging
import threading

from monitor import libvirt_recovery
from monitor import masakari
from monitor import nova_recovery
from monitor import threads
from monitor.conf import recovery as recovery_conf

LOG = logging.getLogger(__name__)
WARM_EVERY = 1200.0
PEERS = {recovery_conf.MASAKARI: "Masakari", recovery_conf.NOVA: "Nova",
         recovery_conf.LIBVIRT: "libvirt"}


class Cloud:
    def __init__(self, conf):
        self._conf = conf
        self._lock = threading.Lock()
        self._connection = None

    def __call__(self):
        with self._lock:
            if self._connection is None:
                self._connection = masakari.connect(self._conf)
            return self._connection

    def warm(self):
        """Authenticate and find the backend's endpoint before any failure
        needs them: the first notification after a start (or after a
        token expired) otherwise pays for both.  Blocking: run in a
        worker.  A failure here is only logged; ``check`` says why."""
        conn = self()
        conn.authorize()
        service = {recovery_conf.NOVA: conn.compute}.get(
            self._conf.recovery.backend, conn.instance_ha)
        return service.get_endpoint()


def sender(conf, cloud):
    backend = conf.recovery.backend
    if backend == recovery_conf.NOVA:
        return nova_recovery.NovaRecovery(cloud,
                                          conf.recovery.nova_action_timeout)
    if backend == recovery_conf.LIBVIRT:
        return libvirt_recovery.LibvirtRecovery(conf.libvirt.connection_uri)
    return lambda body: masakari.send(cloud(), body)


async def keep_warm(cloud, pool, every=WARM_EVERY):
    """A token and the endpoint ready before a failure needs them
    (keystoneauth renews a token close to its expiry when it is used)."""
    while True:
        try:
            await threads.within(pool.run(cloud.warm), 120)
        except Exception as exc:  # a notification will retry and say why
            LOG.info("Cloud connection not ready yet: %s", exc)
        await asyncio.sleep(every)
