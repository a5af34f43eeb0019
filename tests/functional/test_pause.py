"""``openstack instanceha pause`` / ``resume`` through the real CLI, read
back by ``openstack server show`` and by the monitor's own listing of the
host's servers (the one it already makes: a pause costs no request)."""
import time

from monitor import masakari
from monitor import pause


def properties(cli, server_id):
    return cli.json("server", "show", server_id, "-c",
                    "properties")["properties"]


def test_pause_writes_the_end_time_the_monitor_reads_and_resume_clears_it(
        cli, seed):
    host = seed.unique("cmp")
    a = seed.server(host=host, metadata={"HA_Enabled": "True"})
    b = seed.server(host=host, metadata={"HA_Enabled": "True"})

    before = time.time()
    rows = cli.json("instanceha", "pause", a["name"], b["id"], "--for", "2h")

    assert [(r["ID"], r["Result"]) for r in rows] == [(a["id"], "ok"),
                                                      (b["id"], "ok")]
    until = pause.parse_until(rows[0]["Paused Until"])
    assert before + 7200 - 1 <= until <= time.time() + 7200
    assert properties(cli, a["id"]) == {
        "HA_Enabled": "True", "HA_Paused_Until": rows[0]["Paused Until"]}
    read = {s.uuid: s for s in masakari.host_servers(seed.admin, host)}
    assert read[a["id"]].paused_until == rows[0]["Paused Until"]
    assert read[a["id"]].ha_enabled is True

    rows = cli.json("instanceha", "resume", a["id"], b["id"])
    assert [r["Result"] for r in rows] == ["resumed", "resumed"]
    assert properties(cli, a["id"]) == {"HA_Enabled": "True"}
    read = {s.uuid: s for s in masakari.host_servers(seed.admin, host)}
    assert read[a["id"]].paused_until is None


def test_a_bad_length_is_one_line_and_changes_nothing(cli, seed):
    server = seed.server(metadata={"HA_Enabled": "True"})
    for length in ("0", "-1h", "two hours", "8d"):
        result = cli.run("instanceha", "pause", server["id"],
                         "--for=" + length, check=False)
        assert result.returncode == 1
        line, = result.stderr.splitlines()
        assert "pause length %r" % length in line
        assert "Traceback" not in result.stderr
    assert properties(cli, server["id"]) == {"HA_Enabled": "True"}


def test_a_pause_costs_the_monitor_no_request(cli, seed, local_cloud):
    """The monitor's reading of the host's servers is one listing, with
    paused servers or without: pauses add 0 requests per interval."""
    import requests

    host = seed.unique("cmp")
    servers = [seed.server(host=host, metadata={"HA_Enabled": "True"})
               for _ in range(3)]
    log = local_cloud.emulator_url + "/_emulator/requests"

    def reading():
        requests.delete(log, timeout=10).raise_for_status()
        read = masakari.host_servers(seed.admin, host)
        made = requests.get(log, timeout=10).json()["requests"]
        return read, [(r["method"], r["path"]) for r in made]

    _, unpaused = reading()
    cli.run("instanceha", "pause", *[s["id"] for s in servers], "--for",
            "1h")
    read, paused = reading()
    assert all(s.paused_until for s in read)
    assert paused == unpaused == [("GET", "/compute/v2.1/servers/detail")]
