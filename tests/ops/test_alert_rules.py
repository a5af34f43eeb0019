"""etc/prometheus/instanceha-alerts.yaml: ``promtool check rules`` and
``promtool test rules`` with tests/ops/instanceha-alerts.test.yaml."""
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops import debian_tools

RULES = debian_tools.REPO / "etc" / "prometheus" / "instanceha-alerts.yaml"
RULE_TESTS = Path(__file__).with_name("instanceha-alerts.test.yaml")
# the alerts whose durations are days, evaluated hourly
LONG_RULE_TESTS = Path(__file__).with_name("instanceha-alerts-long.test.yaml")
# What the monitor exposes on /metrics for these rules (the names are the
# contract with monitor/metrics.py; tests/unit/test_alert_metrics.py checks
# the monitor's side).
MONITOR_METRICS = {
    "instanceha_libvirt_connected", "instanceha_outbox_depth",
    "instanceha_outbox_oldest_pending_seconds", "instanceha_host_alert",
    "instanceha_quarantined", "instanceha_notifications_total",
    "instanceha_build_info", "instanceha_store_writable",
    "instanceha_store_unwritten", "instanceha_domains",
    # exported with shadow mode and host pauses (names agreed with them;
    # tests/unit/test_alert_metrics.py says when this tree lacks them)
    "instanceha_monitor_info", "instanceha_paused_until_timestamp_seconds",
}


@pytest.fixture(scope="module")
def promtool():
    try:
        return debian_tools.promtool()
    except debian_tools.Unavailable as exc:
        pytest.skip("promtool unavailable, the alert rules are NOT tested: "
                    "%s" % exc)


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def alerts():
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


def test_rules_pass_promtool_check(promtool):
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: %d rules found" % len(alerts()) in result.stdout


@pytest.mark.parametrize("tests", [RULE_TESTS, LONG_RULE_TESTS],
                         ids=lambda path: path.name)
def test_rules_pass_their_promtool_unit_tests(promtool, tests):
    result = run(promtool, "test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("change", [
    ("instanceha_outbox_oldest_pending_seconds > 300",
     "instanceha_outbox_oldest_pending_seconds > 3000"),
    ("instanceha_libvirt_connected == 0\n        for: 1m",
     "instanceha_libvirt_connected == 0\n        for: 10s"),
    ("instanceha_host_alert == 1", "instanceha_host_alert == 0"),
    ("instanceha_store_writable == 0\n        for: 2m",
     "instanceha_store_writable == 0\n        for: 5m"),
    ('detection=~"agent|kernel|none"}[1d])) > 0',
     'detection=~"agent|kernel|none"}[1d])) > 2'),
    ("< time() - 300", "< time() - 900"),
])
def test_promtool_tests_catch_a_changed_rule(promtool, tmp_path, change):
    """The unit tests above are not a formality: a changed threshold or
    duration fails them."""
    text = RULES.read_text()
    assert change[0] in text
    (tmp_path / "rules.yaml").write_text(text.replace(*change))
    (tmp_path / "test.yaml").write_text(RULE_TESTS.read_text().replace(
        "../../etc/prometheus/instanceha-alerts.yaml", "rules.yaml"))
    result = run(promtool, "test", "rules", str(tmp_path / "test.yaml"))
    assert result.returncode != 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_not_firing():
    fires, quiet = set(), set()
    cases = [case for path in (RULE_TESTS, LONG_RULE_TESTS)
             for case in yaml.safe_load(path.read_text())["tests"]]
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(
                check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fires == set(), "never tested firing"
    assert names - quiet == set(), "never tested not firing"
    assert (fires | quiet) - names == set(), "tests of unknown alerts"


def test_rules_use_only_metrics_the_monitor_exposes():
    used = set()
    for rule in alerts():
        used.update(re.findall(r"\binstanceha_[a-z_]+", rule["expr"]))
    assert used and used <= MONITOR_METRICS, used - MONITOR_METRICS


def test_alerts_are_labelled_and_explained():
    for rule in alerts():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule
        assert rule["annotations"]["summary"], rule
        assert rule["annotations"]["description"], rule
