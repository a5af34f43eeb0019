"""The nova backend against the Nova emulator, through real openstacksdk
and Keystone tokens: what it asks of Nova for each state a server can be
in, and the monitor recovering a dead domain with no Masakari at all."""
import re
import subprocess

import pytest

from monitor import delivery
from monitor import nova_recovery
from tests import monitor_harness as harness
from tests.functional.test_monitor_masakari import MONITOR
from tests.functional.test_monitor_masakari import monitor_conf

HOST = "compute-nova-backend"
DEATH = {"event": "LIFECYCLE", "vir_domain_event": "STOPPED_FAILED"}
HANG = {"event": "QEMU_GUEST_AGENT_ERROR",
        "vir_domain_event": "STOPPED_FAILED"}


@pytest.fixture
def recover(seed):
    return nova_recovery.NovaRecovery(lambda: seed.admin, action_timeout=10)


def nova_backend_conf(tmp_path, cloud, hostname):
    path = monitor_conf(tmp_path, cloud, hostname)
    path.write_text(path.read_text() + "[recovery]\nbackend = nova\n")
    return path


def body(uuid, payload, hostname=HOST):
    return {"type": "VM", "hostname": hostname,
            "generated_time": "2026-01-01T00:00:00",
            "payload": dict(payload, instance_uuid=uuid)}


ACCEPTED, REJECTED, RETRY = delivery.ACCEPTED, delivery.REJECTED, \
    delivery.RETRY


@pytest.mark.parametrize("payload,spec,outcome,actions,detail", [
    (DEATH, {}, ACCEPTED, ["os-stop", "os-start"], "stop, start requested"),
    (DEATH, {"vm_state": "stopped"}, ACCEPTED, ["os-start"],
     "start requested"),
    (DEATH, {"vm_state": "error"}, ACCEPTED,
     ["os-resetState", "os-stop", "os-start"], "vm_state error"),
    (HANG, {}, ACCEPTED, ["reboot HARD"], "hard reboot requested"),
    (DEATH, {"metadata": {}}, REJECTED, [], "HA_Enabled is not set"),
    (HANG, {"metadata": {"HA_Enabled": "False"}}, REJECTED, [],
     "HA_Enabled"),
    (DEATH, {"host": "compute-elsewhere"}, REJECTED, [], "now on host"),
    (DEATH, {"task_state": "powering-off"}, RETRY, [], "task_state"),
    (HANG, {"vm_state": "stopped"}, REJECTED, [], "not rebooted"),
])
def test_what_nova_is_asked(seed, recover, payload, spec, outcome, actions,
                            detail):
    spec = dict({"host": HOST, "metadata": {"HA_Enabled": "True"}}, **spec)
    server = seed.server(seed.image().id, **spec)

    answer = recover(body(server["id"], payload))

    assert (answer.kind, seed.actions(server["id"])) == (outcome, actions)
    assert detail in answer.detail


def test_a_server_nova_does_not_know_is_refused_for_good(recover):
    answer = recover(body("0b2e4f0c-0000-4000-8000-000000000000", DEATH))
    assert answer == delivery.rejected("the server no longer exists in Nova")


def test_nova_unreachable_is_retried():
    def connect():
        raise ConnectionRefusedError("nova is down")
    answer = nova_recovery.NovaRecovery(connect, 10)(body("u", DEATH))
    assert answer.kind == RETRY and "nova is down" in answer.detail


def test_monitor_recovers_through_nova_without_masakari(
        tmp_path, local_cloud, seed, domains):
    dom, = domains.create()
    seed.server(seed.image().id, id=dom.UUIDString(), host=HOST,
                metadata={"HA_Enabled": "True"})
    entry = harness.one_death_delivered(harness.load_conf(
        nova_backend_conf(tmp_path, local_cloud, HOST)), dom)

    assert seed.actions(dom.UUIDString()) == ["os-stop", "os-start"]
    assert entry["notification_uuid"] is None
    assert entry["state"] == "accepted" and entry["last_error"] is None


def test_check_asks_nova_for_this_host(tmp_path, local_cloud, seed):
    known = seed.unique("cmp")
    seed.compute_service(known)
    results = {}
    for name in (known, "not-a-compute-host"):
        (tmp_path / name).mkdir()
        path = nova_backend_conf(tmp_path / name, local_cloud, name)
        results[name] = subprocess.run(
            [MONITOR, "check", "--config-file", str(path)],
            capture_output=True, text=True)

    assert results[known].returncode == 0, results[known].stdout
    assert "ok   nova      recovery through Nova for nova-compute on %r" \
        % known in results[known].stdout
    # no Masakari registration row (the masakari-monitors row looks for
    # its instance monitors on this host)
    assert not re.search(r"^(ok|FAIL|WARN)\s+masakari\s",
                         results[known].stdout, re.MULTILINE)
    assert results["not-a-compute-host"].returncode == 1
    assert "FAIL nova      no nova-compute service on host " \
        "'not-a-compute-host'" in results["not-a-compute-host"].stdout
