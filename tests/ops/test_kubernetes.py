"""etc/kubernetes/: every manifest validated against the Kubernetes API's
schemas (``kubernetes-validate``, strict: an unknown or misspelt field
fails), and what ties them together checked by name.

The PodMonitor is the Prometheus Operator's custom resource: the
Kubernetes schemas have none, so only its part in the whole is checked
(the pods and the port it selects); its own fields are NOT validated.
"""
import copy
from pathlib import Path

import pytest
import yaml

from tests.ops import debian_tools

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (it "
    "is in tox.ini's ops env): the manifests are NOT validated")

MANIFESTS = debian_tools.REPO / "etc" / "kubernetes"
# The oldest Kubernetes still in the field for these clouds, and the newest
# the installed schemas know.
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
CRDS = {("monitoring.coreos.com/v1", "PodMonitor")}
# From the bench (bench/README.md): peak RSS with 40 guests, and idle CPU
# seconds per 300 s with 40 guests.
PEAK_RSS_MIB = 82
IDLE_CPU_SECONDS_PER_300 = 2.25


def load():
    return {(doc["kind"], path.name): doc
            for path in sorted(MANIFESTS.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc}


def kind(name):
    found, = [doc for (k, _), doc in load().items() if k == name]
    return found


def validate(doc, version):
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(name for _, name in load()))
def test_manifest_is_valid_for_the_kubernetes_api(name, version):
    for (kind_, file_), doc in load().items():
        if file_ != name:
            continue
        if (doc["apiVersion"], kind_) in CRDS:
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                validate(doc, version)
            continue
        validate(doc, version)


def set_path(doc, path, value):
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


POD = ("spec", "template", "spec")
CONTAINER = POD + ("containers", 0)


@pytest.mark.parametrize("path, value", [
    (POD + ("hostNetwrok",), True),  # a misspelt field
    (POD + ("hostNetwork",), "yes"),  # not a boolean
    (CONTAINER + ("readinessProbe", "httpGet", "port"), None),
    (CONTAINER + ("securityContext", "capabilities", "add"), "ALL"),
    (CONTAINER + ("ports", 0, "containerPort"), "9781"),  # not a number
    (CONTAINER + ("volumeMounts", 0, "mountPath"), KeyError),
    (("spec", "selector"), KeyError),  # a DaemonSet needs one
])
def test_validation_catches_a_broken_daemonset(path, value):
    """The validation above is not a formality: these mistakes fail it."""
    broken = set_path(kind("DaemonSet"), path, value)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken, VERSIONS[-1])


def container():
    return kind("DaemonSet")["spec"]["template"]["spec"]["containers"][0]


def test_the_pod_runs_next_to_libvirt_with_what_the_monitor_needs():
    pod = kind("DaemonSet")["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True  # its name, Keystone, the probes
    assert pod["nodeSelector"] == {"openstack-compute-node": "enabled"}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in
              container()["volumeMounts"]}
    host = {path: volumes[mount["name"]]["hostPath"]
            for path, mount in mounts.items()
            if "hostPath" in volumes[mount["name"]]}
    assert {path: (spec["path"], mounts[path].get("readOnly", False))
            for path, spec in host.items()} == {
        "/run/libvirt": ("/run/libvirt", True),
        "/var/log/libvirt": ("/var/log/libvirt", True),
        "/var/lib/nova/instances": ("/var/lib/nova/instances", True),
        "/var/lib/instanceha": ("/var/lib/instanceha", False)}
    assert host["/var/lib/instanceha"]["type"] == "DirectoryOrCreate"


def test_the_container_keeps_only_the_native_units_powers():
    context = container()["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["privileged"] is False
    assert context["capabilities"] == {"drop": ["ALL"],
                                       "add": ["DAC_READ_SEARCH"]}


def test_config_from_the_configmap_and_credentials_from_the_secret():
    config, secret = kind("ConfigMap"), kind("Secret")
    pod = kind("DaemonSet")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["name"]: mount["mountPath"]
              for mount in container()["volumeMounts"]}
    by_source = {}
    for name, volume in volumes.items():
        if "configMap" in volume:
            by_source[volume["configMap"]["name"]] = mounts[name]
        if "secret" in volume:
            by_source[volume["secret"]["secretName"]] = mounts[name]
    files = [str(Path(by_source[config["metadata"]["name"]]) / key)
             for key in config["data"]]
    files += [str(Path(by_source[secret["metadata"]["name"]]) / key)
              for key in secret["stringData"]]
    args = container()["args"]
    assert args[0] == "start"
    assert sorted(args[i + 1] for i, arg in enumerate(args)
                  if arg == "--config-file") == sorted(files)
    # no credential in the ConfigMap
    assert "password" not in "".join(config["data"].values())
    assert "[api]" in secret["stringData"]["api.conf"]


def test_probes_and_scraping_reach_the_metrics_listener():
    ports = {port["name"]: port["containerPort"]
             for port in container()["ports"]}
    conf = kind("ConfigMap")["data"]["instanceha-monitor.conf"]
    assert "metrics_port = %d" % ports["metrics"] in conf
    assert "metrics_listen = 0.0.0.0" in conf
    ready = container()["readinessProbe"]["httpGet"]
    live = container()["livenessProbe"]["httpGet"]
    assert (ready["path"], ready["port"]) == (
        "/healthz?require=libvirt", "metrics")
    # not /healthz: a full state disk must not restart the monitor
    assert (live["path"], live["port"]) == ("/metrics", "metrics")
    annotations = kind("DaemonSet")["spec"]["template"]["metadata"][
        "annotations"]
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_the_podmonitor_selects_the_monitors_pods_and_port():
    monitor = kind("PodMonitor")
    labels = kind("DaemonSet")["spec"]["template"]["metadata"]["labels"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert monitor["metadata"]["namespace"] == \
        kind("DaemonSet")["metadata"]["namespace"]
    endpoint, = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in {port["name"] for port in container()["ports"]}
    assert endpoint["path"] == "/metrics"


def quantity(text, units):
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * factor
    return float(text)


def test_resource_requests_are_the_measured_ones():
    resources = container()["resources"]
    memory_mib = quantity(resources["requests"]["memory"],
                          {"Mi": 1, "Gi": 1024})
    cpu_milli = quantity(resources["requests"]["cpu"], {"m": 1})
    idle_milli = IDLE_CPU_SECONDS_PER_300 / 300 * 1000
    # above the measured peak, without asking for much more
    assert PEAK_RSS_MIB <= memory_mib <= 1.5 * PEAK_RSS_MIB
    assert idle_milli <= cpu_milli <= 2 * idle_milli
    # a memory limit under the peak would have the kernel kill it
    limit = quantity(resources["limits"]["memory"], {"Mi": 1, "Gi": 1024})
    assert limit >= 2 * PEAK_RSS_MIB
    assert "cpu" not in resources["limits"]  # throttling delays detection
