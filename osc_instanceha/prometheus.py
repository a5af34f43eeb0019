"""Reads the fleet's monitors from Prometheus' HTTP API (``/api/v1/query``).

Where the Prometheus URL and its credentials come from, first found wins:
the command's options (``--prometheus-url`` ...), the environment
(``INSTANCEHA_PROMETHEUS_URL`` ...), the cloud's entry in clouds.yaml
(``instanceha_prometheus_url`` ...).  Prometheus deployments authenticate
without Keystone: basic auth, a bearer token, and a CA file for HTTPS.
"""
import dataclasses
import re
import time

import requests

from osc_instanceha import fleet

TIMEOUT = 10.0
DEFAULT_LOOKBACK = "7d"
# option (and clouds.yaml key suffix) -> environment variable
SOURCES = {
    "url": "INSTANCEHA_PROMETHEUS_URL",
    "username": "INSTANCEHA_PROMETHEUS_USERNAME",
    "password": "INSTANCEHA_PROMETHEUS_PASSWORD",
    "token": "INSTANCEHA_PROMETHEUS_TOKEN",
    "cacert": "INSTANCEHA_PROMETHEUS_CACERT",
}
CLOUD_KEY = "instanceha_prometheus_%s"
DURATION = re.compile(r"[1-9][0-9]*[smhdwy]")
NOT_CHECKED = ("host side not checked: no Prometheus URL (give "
               "--prometheus-url or set INSTANCEHA_PROMETHEUS_URL)")


class PrometheusError(Exception):
    """Prometheus could not be asked or refused: one line, with the fix."""


@dataclasses.dataclass
class Settings:
    url: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    cacert: str | None = None
    lookback: str = DEFAULT_LOOKBACK


def add_arguments(parser):
    """The Prometheus options shared by ``status`` and ``monitor list``."""
    group = parser.add_argument_group(
        "Prometheus", "Where the monitors' metrics are (default: the "
        "environment, then the cloud's instanceha_prometheus_* keys in "
        "clouds.yaml)")
    group.add_argument(
        "--prometheus-url", metavar="<url>",
        help="Prometheus base URL, e.g. http://prometheus:9090 "
             "(Env: INSTANCEHA_PROMETHEUS_URL)")
    group.add_argument(
        "--prometheus-username", metavar="<name>",
        help="Basic-auth user (Env: INSTANCEHA_PROMETHEUS_USERNAME)")
    group.add_argument(
        "--prometheus-password", metavar="<password>",
        help="Basic-auth password (Env: INSTANCEHA_PROMETHEUS_PASSWORD)")
    group.add_argument(
        "--prometheus-token", metavar="<token>",
        help="Bearer token (Env: INSTANCEHA_PROMETHEUS_TOKEN)")
    group.add_argument(
        "--prometheus-cacert", metavar="<file>",
        help="CA bundle for an HTTPS Prometheus "
             "(Env: INSTANCEHA_PROMETHEUS_CACERT)")
    group.add_argument(
        "--monitor-lookback", metavar="<duration>",
        default=DEFAULT_LOOKBACK,
        help="How far back a stopped monitor is still found, as a "
             "Prometheus duration (default: %s; at most the retention)"
             % DEFAULT_LOOKBACK)


def settings(args, environ, cloud_config):
    """Settings from the options, ``environ``, then ``cloud_config`` (the
    cloud's clouds.yaml entry as a dict); None without a URL.  ValueError
    with one line for a value that cannot work."""
    values = {}
    for name, env in SOURCES.items():
        value = getattr(args, "prometheus_" + name, None)
        if value is None:
            value = environ.get(env) or None
        if value is None:
            value = (cloud_config or {}).get(CLOUD_KEY % name)
        values[name] = value
    if not values["url"]:
        return None
    if not re.match(r"https?://[^/]", values["url"]):
        raise ValueError("the Prometheus URL must start with http:// or "
                         "https://, not %r" % values["url"])
    if bool(values["username"]) != bool(values["password"]):
        raise ValueError("basic auth for Prometheus needs both a username "
                         "and a password (--prometheus-username, "
                         "--prometheus-password)")
    if values["username"] and values["token"]:
        raise ValueError("give Prometheus either basic auth or a bearer "
                         "token, not both")
    lookback = getattr(args, "monitor_lookback", None) or DEFAULT_LOOKBACK
    if not DURATION.fullmatch(lookback):
        raise ValueError("--monitor-lookback must be a Prometheus duration "
                         "like 7d or 36h, not %r" % lookback)
    return Settings(lookback=lookback, **values)


class Client:
    def __init__(self, settings, timeout=TIMEOUT):
        self.settings, self.timeout = settings, timeout
        self.session = requests.Session()
        if settings.username:
            self.session.auth = (settings.username, settings.password)
        if settings.token:
            self.session.headers["Authorization"] = \
                "Bearer " + settings.token
        if settings.cacert:
            self.session.verify = settings.cacert

    def query(self, promql):
        """The result list of an instant query."""
        url = self.settings.url.rstrip("/") + "/api/v1/query"
        try:
            answer = self.session.get(url, params={"query": promql},
                                      timeout=self.timeout)
        except requests.RequestException as exc:
            raise PrometheusError("Prometheus at %s not answering: %s" % (
                self.settings.url, _first_line(exc))) from None
        if answer.status_code in (401, 403):
            raise PrometheusError(
                "Prometheus at %s refused the query (HTTP %d): check "
                "--prometheus-username/--prometheus-password or "
                "--prometheus-token" % (self.settings.url,
                                        answer.status_code))
        try:
            body = answer.json()
        except ValueError:
            raise PrometheusError(
                "%s answered HTTP %d without Prometheus' JSON: is it a "
                "Prometheus URL?" % (url, answer.status_code)) from None
        if body.get("status") != "success":
            raise PrometheusError("Prometheus at %s: %s" % (
                self.settings.url, body.get("error") or answer.status_code))
        return body["data"]["result"]


def _first_line(exc):
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def monitor_states(client, now=None):
    """{host: fleet.MonitorState} of every monitor seen within the
    look-back window: two queries, whatever the fleet's size."""
    now = time.time() if now is None else now
    current = client.query(fleet.NOW_QUERY)
    seen = client.query(fleet.SEEN_QUERY % client.settings.lookback)
    return fleet.monitor_states(current, seen, now)
