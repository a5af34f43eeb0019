"""HA_Enabled from Nova, read periodically for ``monitor_ha_enabled_only``.

While Nova cannot be read, the reading says so (``uuids`` None) and every
guest is watched, as the option's help promises: a stale list could leave
a newly protected server unwatched.
"""
import asyncio
import logging

from monitor import masakari
from monitor import observations as obs
from monitor import threads

LOG = logging.getLogger(__name__)


async def read_forever(connect, hostname, post, pool, refresh, timeout):
    def read():
        return masakari.ha_enabled_servers(connect(), hostname)

    while True:
        try:
            uuids = await threads.within(pool.run(read), timeout)
            post(obs.HaEnabled(uuids))
        except Exception as exc:  # any failure: watch everyone, say why
            why = masakari.describe(exc) if str(exc) else \
                "no answer within %.0f s" % timeout
            LOG.warning("Cannot read HA_Enabled from Nova (%s): every "
                        "guest is watched until it can", why)
            post(obs.HaEnabled(None, why))
        await asyncio.sleep(refresh)
