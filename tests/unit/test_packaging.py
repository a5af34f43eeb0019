"""What ``pip install .`` and ``pip install .[monitor]`` bring: the plugin
without a compiler, the monitor with libvirt-python (source-only on PyPI).

Read from setup.cfg, requirements.txt and the installed metadata; no
network."""
import ast
import configparser
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
DIST = "osc-instanceha"
# import name -> distribution, for every third-party import of the code
IMPORTS = {
    "libvirt": "libvirt-python", "libvirtaio": "libvirt-python",
    "libvirt_qemu": "libvirt-python", "aiohttp": "aiohttp",
    "prometheus_client": "prometheus-client", "openstack": "openstacksdk",
    "keystoneauth1": "keystoneauth1", "osc_lib": "osc-lib",
    "cliff": "cliff", "oslo_config": "oslo.config", "oslo_log": "oslo.log",
    "oslo_utils": "oslo.utils", "requests": "requests",
}
OWN = {"monitor", "osc_instanceha"}


def setup_cfg():
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return parser


def names(lines):
    return {Requirement(line).name.lower() for line in lines
            if line.strip() and not line.strip().startswith("#")}


def base_requirements():
    return names((REPO / "requirements.txt").read_text().splitlines())


def extras():
    section = setup_cfg()["extras"]
    return {extra: names(section[extra].splitlines()) for extra in section}


def test_libvirt_python_is_only_in_the_monitor_extra():
    assert "libvirt-python" not in base_requirements()
    everything = extras()
    assert "libvirt-python" in everything["monitor"]
    assert [name for name, reqs in everything.items()
            if "libvirt-python" in reqs] == ["monitor"]


def test_the_monitor_extra_does_not_need_the_openstack_client():
    assert "python-openstackclient" not in base_requirements()
    assert "python-openstackclient" not in extras()["monitor"]


def test_installed_metadata_agrees():
    """The metadata pip wrote for this install (tox installs it)."""
    requires = [Requirement(r) for r in importlib.metadata.requires(DIST)]
    libvirt = [r for r in requires if r.name == "libvirt-python"]
    assert libvirt, requires
    for requirement in libvirt:
        assert requirement.marker is not None
        assert requirement.marker.evaluate({"extra": "monitor"})
        assert not requirement.marker.evaluate({"extra": ""})
    assert "monitor" in importlib.metadata.metadata(DIST).get_all(
        "Provides-Extra")


def module_imports(path):
    """Top-level names imported at module level (not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.update("%s.%s" % (node.module, alias.name)
                         for alias in node.names)
    return found


def module_file(dotted):
    path = REPO.joinpath(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def third_party_closure(start):
    """Third-party top-level packages imported at import time by the
    modules in ``start`` and by every own module they import."""
    seen, todo, third = set(), list(start), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in module_imports(path):
            top = name.split(".")[0]
            if top in OWN:
                parts = name.split(".")
                for end in range(len(parts), 0, -1):
                    found = module_file(".".join(parts[:end]))
                    if found:
                        todo.append(found)
                        break
            elif top in IMPORTS:
                third.add(IMPORTS[top])
            else:
                assert top in sys.stdlib_module_names, (
                    "%s imports %s: add it to IMPORTS and to requirements"
                    % (path, top))
    return third


def test_the_plugin_imports_nothing_from_the_monitor_extra():
    """``openstack instanceha ...`` (including ``monitor show|set``, which
    read the monitor's config code) works after ``pip install .``."""
    plugin = sorted((REPO / "osc_instanceha").rglob("*.py"))
    needed = third_party_closure(plugin)
    assert needed <= base_requirements(), needed - base_requirements()


def test_every_monitor_import_is_in_base_or_the_extra():
    monitor = sorted((REPO / "monitor").rglob("*.py"))
    needed = third_party_closure(monitor)
    provided = base_requirements() | extras()["monitor"]
    assert needed <= provided, needed - provided


def test_entry_points_load_without_libvirt():
    """Every command of the plugin loads, and instanceha-monitor --help
    answers, in a Python where ``import libvirt`` fails as it does after
    ``pip install .``."""
    script = """
import importlib.metadata, sys
sys.modules["libvirt"] = None  # import libvirt -> ImportError
sys.modules["aiohttp"] = None
sys.modules["prometheus_client"] = None
eps = importlib.metadata.entry_points()
loaded = [ep.load() for group in ("openstack.cli.extension",
                                  "openstack.instanceha.v1",
                                  "oslo.config.opts")
          for ep in eps.select(group=group)
          if ep.dist.name == "osc-instanceha"]
print(len(loaded))
from monitor import cmd
try:
    cmd.main(["--help"])
except SystemExit as exc:
    assert exc.code == 0, exc.code
"""
    result = subprocess.run([sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    entry_points = setup_cfg()["entry_points"]
    expected = sum(len(names_of(entry_points[group])) for group in (
        "openstack.cli.extension", "openstack.instanceha.v1",
        "oslo.config.opts"))
    assert result.stdout.splitlines()[0] == str(expected)
    assert "instanceha-monitor" in result.stdout


def names_of(block):
    return [line for line in block.splitlines() if "=" in line]


def test_data_files_exist():
    """The sample config, the systemd and quadlet units, the Kubernetes
    manifests and the alert rules are installed under
    <prefix>/share/instanceha."""
    shipped = []
    for line in setup_cfg()["files"]["data_files"].splitlines():
        if "=" in line:
            target, source = (part.strip() for part in line.split("=", 1))
            assert target.startswith("share/instanceha"), line
            for one in source.split():
                shipped.append(one)
                assert (REPO / one).is_file(), one
    assert {Path(s).name for s in shipped} >= {
        "instanceha-monitor.conf.sample", "instanceha-monitor.service",
        "instanceha-alerts.yaml", "instanceha-monitor.container",
        "daemonset.yaml", "configmap.yaml", "secret.yaml", "podmonitor.yaml"}


def test_requirement_lines_parse():
    for path in ("requirements.txt", "test-requirements.txt",
                 "doc/requirements.txt"):
        for line in (REPO / path).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                assert re.match(r"^[A-Za-z0-9]", line), line
                Requirement(line)


RENO_SECTIONS = {"prelude", "features", "issues", "upgrade", "deprecations",
                 "critical", "security", "fixes", "other"}


def test_every_release_note_is_one_reno_reads():
    """Each note is YAML with reno's sections only (a misspelled section
    is silently left out of the release notes), each entry text."""
    import yaml

    notes = sorted((REPO / "releasenotes" / "notes").glob("*.yaml"))
    assert notes
    for path in notes:
        assert re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{16}\.yaml", path.name), \
            path.name
        note = yaml.safe_load(path.read_text())
        assert note and set(note) <= RENO_SECTIONS, (path.name, set(note))
        for section, entries in note.items():
            entries = [entries] if section == "prelude" else entries
            assert all(isinstance(e, str) and e.strip() for e in entries), \
                (path.name, section)
