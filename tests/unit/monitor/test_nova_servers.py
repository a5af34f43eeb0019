"""This host's servers from Nova: what Nova's API returns for
``GET /servers/detail`` (every page), a reading each refresh and on
request, coalesced, and a failure told once."""
import asyncio
import logging
import threading

import json

from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc
import pytest
import requests

from monitor import masakari
from monitor import nova_servers
from monitor import observations as obs
from monitor import threads


def nova_server(uuid, metadata, vm_state="active", task_state=None):
    """A server as GET /servers/detail returns it (admin fields)."""
    return {"id": uuid, "name": "vm-" + uuid, "metadata": metadata,
            "OS-EXT-STS:vm_state": vm_state,
            "OS-EXT-STS:task_state": task_state,
            "OS-EXT-SRV-ATTR:host": "compute-1", "status": "ACTIVE"}


def response(status, body, url="http://nova/v2.1/servers/detail"):
    """A requests.Response as keystoneauth hands it to the proxy."""
    answer = requests.Response()
    answer.status_code, answer.url = status, url
    answer._content = json.dumps(body).encode()
    answer.headers["Content-Type"] = "application/json"
    answer.request = requests.Request("GET", url).prepare()
    return answer


class FakeCompute:
    """The compute proxy's ``get``: each answer a list of servers (one
    page), a Response, or an exception raised."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []
        self.gate = None  # a threading.Event a listing waits for

    def get(self, url, params=None, **kwargs):
        self.calls.append((url, params))
        if self.gate is not None:
            self.gate.wait(10)
        answer = self.answers.pop(0) if len(self.answers) > 1 else \
            self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, requests.Response):
            return answer
        return response(200, {"servers": answer})


class FakeConnection:
    def __init__(self, compute):
        self.compute = compute


SERVERS = [nova_server("a", {"HA_Enabled": "True"}),
           nova_server("b", {"HA_Enabled": "False"}, "active",
                       "image_snapshot"),
           nova_server("c", {}, "stopped")]


def test_one_listing_gives_every_server_of_the_host():
    compute = FakeCompute(SERVERS)
    servers = masakari.host_servers(FakeConnection(compute), "compute-1")
    assert servers == (obs.Server("a", True, "active", None),
                       obs.Server("b", False, "active", "image_snapshot"),
                       obs.Server("c", False, "stopped", None))
    assert compute.calls == [("/servers/detail", {
        "all_tenants": "True", "host": "compute-1"})]


def test_every_page_is_read():
    """Nova pages at its max_limit (1000 by default): a listing that
    stopped at the first page would leave the servers after it unjudged
    by Nova's task state and HA_Enabled."""
    after = "http://nova/v2.1/servers/detail?all_tenants=True&host=" \
        "compute-1&limit=2&marker=b"
    compute = FakeCompute(
        response(200, {"servers": SERVERS[:2], "servers_links": [
            {"rel": "next", "href": after}]}),
        response(200, {"servers": SERVERS[2:]}))
    servers = masakari.host_servers(FakeConnection(compute), "compute-1")
    assert [s.uuid for s in servers] == ["a", "b", "c"]
    assert compute.calls[1] == (after, None)


def test_a_refusal_says_what_nova_said():
    compute = FakeCompute(response(403, {"forbidden": {
        "code": 403, "message": "Policy doesn't allow os_compute_api:"
        "servers:detail:get_all_tenants to be performed."}}))
    with pytest.raises(sdk_exc.HttpException) as caught:
        masakari.host_servers(FakeConnection(compute), "compute-1")
    assert masakari.describe(caught.value).startswith("HTTP 403: Policy")


def reader(compute, refresh=60, timeout=5):
    posted = []
    nova = nova_servers.NovaServers(lambda: FakeConnection(compute),
                                    "compute-1", posted.append,
                                    threads.Pool(1, "nova"), refresh,
                                    timeout)
    return nova, posted


async def until(predicate, timeout=5):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline
        await asyncio.sleep(0.01)


def test_readings_each_refresh_and_at_once_when_asked():
    compute = FakeCompute(SERVERS)
    nova, posted = reader(compute, refresh=60)

    async def run():
        task = asyncio.ensure_future(nova.run())
        await until(lambda: len(posted) == 1)
        nova.read_now()
        await until(lambda: len(posted) == 2)
        task.cancel()
    asyncio.run(run())
    assert posted[0] == obs.NovaServers((
        obs.Server("a", True, "active", None),
        obs.Server("b", False, "active", "image_snapshot"),
        obs.Server("c", False, "stopped", None)), None)
    assert len(compute.calls) == 2


def test_requests_during_a_reading_make_one_more_reading():
    compute = FakeCompute(SERVERS)
    compute.gate = threading.Event()
    nova, posted = reader(compute, refresh=60)

    async def run():
        task = asyncio.ensure_future(nova.run())
        await until(lambda: len(compute.calls) == 1)
        for _ in range(5):
            nova.read_now()
        compute.gate.set()
        await until(lambda: len(posted) == 2)
        await asyncio.sleep(0.2)
        task.cancel()
    asyncio.run(run())
    assert len(compute.calls) == 2 and len(posted) == 2


def test_a_failure_posts_none_with_why_and_warns_once(caplog):
    caplog.set_level(logging.WARNING, logger="monitor.nova_servers")
    refused = ksa_exc.ConnectFailure("Connection refused")
    compute = FakeCompute(refused, refused, refused, SERVERS)
    nova, posted = reader(compute)

    async def run():
        for _ in range(4):
            await nova.read_once()
    asyncio.run(run())
    assert posted[:3] == [obs.NovaServers(
        None, "cannot connect: Connection refused")] * 3
    assert posted[3].servers is not None
    assert [r.message for r in caplog.records] == [
        "Cannot read this host's servers from Nova: cannot connect: "
        "Connection refused",
        "Nova's servers on compute-1 are readable again"]


def test_a_hung_nova_times_out_and_is_not_asked_again_meanwhile():
    compute = FakeCompute(SERVERS)
    compute.gate = threading.Event()
    nova, posted = reader(compute, timeout=0.2)

    async def run():
        await nova.read_once()
        await nova.read_once()  # the first still hangs in its worker
        compute.gate.set()
        await until(lambda: nova._reading.done())
        await nova.read_once()
    asyncio.run(run())
    assert posted[:2] == [
        obs.NovaServers(None, "no answer within 0.2 s"),
        obs.NovaServers(None, "the previous reading is still unanswered "
                        "after 0.2 s")]
    assert posted[2].servers is not None
    assert len(compute.calls) == 2


def test_each_reading_says_when_its_request_was_sent():
    """A fence takes only a reading begun after it asked: the time is
    the clock's when the request goes out, not when it is answered."""
    compute = FakeCompute(SERVERS, ksa_exc.ConnectFailure("refused"))
    compute.gate = threading.Event()
    clock = iter([100.0, 200.0])
    posted = []
    nova = nova_servers.NovaServers(
        lambda: FakeConnection(compute), "compute-1", posted.append,
        threads.Pool(1, "nova"), 60, 5, clock=lambda: next(clock))

    async def run():
        reading = asyncio.ensure_future(nova.read_once())
        await until(lambda: compute.calls)
        compute.gate.set()
        await reading
        await nova.read_once()
    asyncio.run(run())
    assert [(p.servers is not None, p.read_at) for p in posted] == [
        (True, 100.0), (False, 200.0)]
