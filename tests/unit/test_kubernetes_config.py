"""The configuration etc/kubernetes/ ships (the ConfigMap's file and the
Secret's api.conf) as the monitor reads it: every option known, every
value valid, read in the order the DaemonSet gives the files."""
from pathlib import Path

import pytest
import yaml

from monitor import conf as monitor_conf
from monitor.conf import validate

MANIFESTS = Path(__file__).resolve().parents[2] / "etc" / "kubernetes"


def shipped(name):
    return yaml.safe_load((MANIFESTS / name).read_text())


def test_the_shipped_files_are_a_valid_monitor_config(tmp_path,
                                                      monkeypatch):
    container = shipped("daemonset.yaml")["spec"]["template"]["spec"][
        "containers"][0]
    args = container["args"]
    # the node's name, as the kubelet sets it from spec.nodeName
    env, = container["env"]
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    monkeypatch.setenv(env["name"], "compute-7")
    files = {"instanceha-monitor.conf":
             shipped("configmap.yaml")["data"]["instanceha-monitor.conf"],
             "api.conf": shipped("secret.yaml")["stringData"]["api.conf"]}
    paths = []
    for i, arg in enumerate(args):
        if arg == "--config-file":
            path = tmp_path / Path(args[i + 1]).name
            path.write_text(files[path.name])
            paths.append(str(path))
    conf = monitor_conf.parse(paths, None, "instanceha",
                              "instanceha-monitor")
    validate.check(conf)  # raises on an unknown or misspelt option
    assert conf.status.metrics_listen == "0.0.0.0"
    assert conf.status.metrics_port == 9781
    assert conf.state_path == "/var/lib/instanceha"
    assert conf.hostname == "compute-7"
    assert conf.api.auth_type == "password"
    assert conf.api.api_interface == "internal"


def test_a_misspelt_option_in_the_configmap_is_refused(tmp_path):
    """The check above is not a formality."""
    text = shipped("configmap.yaml")["data"]["instanceha-monitor.conf"]
    path = tmp_path / "m.conf"
    path.write_text(text.replace("guest_monitoring_interval",
                                 "guest_monitor_interval"))
    conf = monitor_conf.parse([str(path)], None, "instanceha",
                              "instanceha-monitor")
    with pytest.raises(validate.ConfigError) as refused:
        validate.check(conf)
    assert "guest_monitor_interval" in str(refused.value)
