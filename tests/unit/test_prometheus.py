"""Where the Prometheus settings come from, and the HTTP adapter against
a stand-in of Prometheus' query API."""
import argparse

import pytest

from osc_instanceha import fleet
from osc_instanceha import prometheus
from tests.unit import prometheus_api


def args(*argv):
    parser = argparse.ArgumentParser()
    prometheus.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_options_win_over_environment_over_clouds_yaml():
    cloud = {"instanceha_prometheus_url": "http://cloud:9090",
             "instanceha_prometheus_token": "t-cloud"}
    env = {"INSTANCEHA_PROMETHEUS_URL": "http://env:9090"}
    assert prometheus.settings(args(), {}, cloud).url == "http://cloud:9090"
    assert prometheus.settings(args(), env, cloud).url == "http://env:9090"
    found = prometheus.settings(
        args("--prometheus-url", "https://opt:9090"), env, cloud)
    assert (found.url, found.token) == ("https://opt:9090", "t-cloud")
    assert prometheus.settings(args(), {}, {}) is None


@pytest.mark.parametrize("argv,message", [
    (["--prometheus-url", "prom:9090"],
     "the Prometheus URL must start with http:// or https://, not "
     "'prom:9090'"),
    (["--prometheus-url", "http://p", "--prometheus-username", "u"],
     "basic auth for Prometheus needs both a username and a password "
     "(--prometheus-username, --prometheus-password)"),
    (["--prometheus-url", "http://p", "--prometheus-username", "u",
      "--prometheus-password", "p", "--prometheus-token", "t"],
     "give Prometheus either basic auth or a bearer token, not both"),
    (["--prometheus-url", "http://p", "--monitor-lookback", "7 days"],
     "--monitor-lookback must be a Prometheus duration like 7d or 36h, "
     "not '7 days'"),
])
def test_bad_settings_are_one_line(argv, message):
    with pytest.raises(ValueError) as error:
        prometheus.settings(args(*argv), {}, {})
    assert str(error.value) == message


@pytest.fixture
def api():
    server = prometheus_api.PrometheusAPI()
    yield server
    server.close()


@pytest.mark.parametrize("argv,header", [
    ([], None),
    (["--prometheus-token", "secret"], "Bearer secret"),
    (["--prometheus-username", "ops", "--prometheus-password", "pw"],
     "Basic b3BzOnB3"),
])
def test_two_queries_with_the_configured_auth(api, argv, header):
    api.current = prometheus_api.healthy("cmp-1", 1000.0)
    client = prometheus.Client(prometheus.settings(args(
        "--prometheus-url", api.url + "/", "--monitor-lookback", "36h",
        *argv), {}, {}))
    states = prometheus.monitor_states(client, now=1000.0)
    assert list(states) == ["cmp-1"]
    assert [(path, query) for path, query, _ in api.requests] == [
        ("/api/v1/query", fleet.NOW_QUERY),
        ("/api/v1/query", fleet.SEEN_QUERY % "36h")]
    assert {h.get("Authorization") for _, _, h in api.requests} == {header}


@pytest.mark.parametrize("status,message", [
    (401, "refused the query (HTTP 401): check --prometheus-username/"
          "--prometheus-password or --prometheus-token"),
    (400, ": nope"),
])
def test_refusals_are_one_line(api, status, message):
    api.status = status
    client = prometheus.Client(prometheus.Settings(api.url))
    with pytest.raises(prometheus.PrometheusError) as error:
        prometheus.monitor_states(client)
    assert str(error.value).startswith("Prometheus at %s" % api.url)
    assert str(error.value).endswith(message)


def test_nobody_listening_is_one_line():
    client = prometheus.Client(prometheus.Settings("http://127.0.0.1:9"),
                               timeout=2)
    with pytest.raises(prometheus.PrometheusError) as error:
        client.query("up")
    assert str(error.value).startswith(
        "Prometheus at http://127.0.0.1:9 not answering: ")
    assert "\n" not in str(error.value)
