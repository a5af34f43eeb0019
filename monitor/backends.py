"""The recovery backend named by ``[recovery] backend``, as a callable
``send(body) -> delivery.Outcome`` for the delivery worker, and the cloud
connection the masakari and nova backends share (made on first use, from
worker threads)."""
import threading

from monitor import libvirt_recovery
from monitor import masakari
from monitor import nova_recovery
from monitor.conf import recovery as recovery_conf

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


def sender(conf, cloud):
    backend = conf.recovery.backend
    if backend == recovery_conf.NOVA:
        return nova_recovery.NovaRecovery(cloud,
                                          conf.recovery.nova_action_timeout)
    if backend == recovery_conf.LIBVIRT:
        return libvirt_recovery.LibvirtRecovery(conf.libvirt.connection_uri)
    return lambda body: masakari.send(cloud(), body)
