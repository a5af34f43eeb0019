"""``instanceha-monitor check``: will this monitor work on this host?

Each check is a row (what, ok, detail) said plainly, for the console script
and for ``openstack instanceha monitor check -f json``.  Every network call
has the ``[api]`` timeouts, so a hung peer is reported, not waited for.
"""
import collections
import errno
import re
from pathlib import Path

from keystoneauth1 import exceptions as ksa_exc

from monitor import masakari
from monitor import private
from monitor.conf import recovery
from monitor.conf import validate

# warn: ok, but the operator should act (a WARN row; the exit status
# stays 0)
Check = collections.namedtuple("Check", "what ok detail warn",
                               defaults=(False,))
# masakari-monitors' monitors that do this monitor's job: running both
# reports every death twice, and the introspective one reboots a guest
# whose agent alone went silent
OVERLAPPING = ("masakari-instancemonitor",
               "masakari-introspectiveinstancemonitor")
COLUMNS = ("Check", "Result", "Detail")
_ERRNO = re.compile(r"\[Errno (\d+)\] ([^'\"\)]+)")
_TIMED_OUT = re.compile(r"Request to (\S+) timed out")


def run(conf):
    """Every check, in order; none raises."""
    checks = [Check("config", True, ", ".join(validate.config_files(conf))
                    or "no config file: built-in defaults")]
    checks.append(_libvirt(conf))
    checks.append(_state(conf))
    checks.append(_overlapping(conf))
    checks.append({recovery.MASAKARI: _masakari, recovery.NOVA: _nova,
                   recovery.LIBVIRT: _libvirt_backend}[
                       conf.recovery.backend](conf))
    if conf.recovery.backend != recovery.LIBVIRT:
        checks.append(_nova_servers(conf))
    return checks


def row(check):
    return (check.what, label(check), check.detail)


def label(check):
    return "FAIL" if not check.ok else "WARN" if check.warn else "ok"


def overlapping_processes(proc=Path("/proc")):
    """(pid, name) of every running masakari-instancemonitor and
    masakari-introspectiveinstancemonitor: the program itself or a
    Python running its console script."""
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        for arg in argv[:2]:
            name = arg.decode(errors="replace").rsplit("/", 1)[-1]
            if name in OVERLAPPING:
                found.append((int(entry.name), name))
                break
    return sorted(found)


def _overlapping(conf, proc=Path("/proc")):
    running = overlapping_processes(proc)
    if not running:
        return Check("masakari-monitors", True, "neither %s runs here" %
                     " nor ".join(OVERLAPPING))
    names = ", ".join("%s (pid %d)" % (name, pid) for pid, name in running)
    if conf.recovery.mode == recovery.SHADOW:
        advice = ("fine while this monitor runs in shadow mode; stop %s "
                  "before [recovery] mode = enforce" % (
                      "it" if len(running) == 1 else "them"))
    else:
        advice = ("both report the same failures (twice to Masakari, and "
                  "the introspective one reboots a guest whose agent alone "
                  "went silent): stop and disable %s" % (
                      "it" if len(running) == 1 else "them"))
    return Check("masakari-monitors", True, "%s running: %s" % (
        names, advice), warn=True)


def _libvirt(conf):
    import libvirt

    from monitor import libvirt_watch

    libvirt_watch.register_error_handler()
    uri = conf.libvirt.connection_uri
    try:
        conn = libvirt.open(uri)
        count = len(conn.listAllDomains())
        conn.close()
    except libvirt.libvirtError as exc:
        return Check("libvirt", False, "cannot open %s: %s; is libvirtd (or "
                     "virtqemud) running, and is this root?" % (
                         uri, exc.get_error_message() or exc))
    return Check("libvirt", True, "%s: %d domains" % (uri, count))


def _state(conf):
    state = Path(conf.state_path)
    try:
        private.make_dir(state)
        probe = state / ".write-test"
        private.write_text(probe, "")
        probe.unlink()
    except OSError as exc:
        return Check("state", False, "%s is not usable: %s; set [DEFAULT] "
                     "state_path to a directory root can write" % (
                         state, exc.strerror or exc))
    return Check("state", True, "%s is writable (0700)" % state)


def cause(exc, conn=None, service_type=None):
    """The reason an operator can act on, behind keystoneauth's and
    openstacksdk's wrapping: the socket error of a refused or unreachable
    endpoint, a timeout, or the HTTP answer.  A version-discovery failure
    hides the cause: ``conn`` is then asked again, plainly."""
    if isinstance(exc, ksa_exc.DiscoveryFailure) and conn is not None:
        url = _endpoint(conn, service_type)
        if url:
            try:
                answer = conn.session.get(url, authenticated=False,
                                          raise_exc=False)
            except Exception as probe:  # its failure is the cause
                return "%s: %s" % (url, cause(probe))
            return "%s answered HTTP %s: not a %s API there? (%s)" % (
                url, answer.status_code, service_type, exc)
    if isinstance(exc, (ksa_exc.ConnectFailure, ksa_exc.ConnectTimeout)):
        found = _ERRNO.search(str(exc))
        if found:
            return "cannot connect: %s" % found.group(2).strip().lower()
        if isinstance(exc, ksa_exc.ConnectTimeout):
            url = _TIMED_OUT.search(str(exc))
            return "timed out: no answer%s within [api] connect_timeout / " \
                "timeout" % (" from " + url.group(1) if url else "")
    if isinstance(exc, ksa_exc.Unauthorized):
        return "Keystone refused the credentials in [api] (HTTP 401)"
    if isinstance(exc, OSError) and exc.errno:
        return "cannot connect: %s" % errno.errorcode.get(
            exc.errno, exc.strerror)
    return masakari.describe(exc)


def _endpoint(conn, service_type):
    try:
        override = conn.config.get_endpoint(service_type)
        if override:
            return override
        return conn.session.get_endpoint(
            service_type=service_type, interface=conn.config.get_interface(
                service_type), region_name=conn.config.get_region_name(
                    service_type))
    except Exception:  # no catalog: the first error says why
        return None


def _masakari(conf):
    conn = None
    try:
        conn = masakari.connect(conf)
        found = masakari.find_host(conn, conf.hostname)
    except Exception as exc:  # any failure here is what check reports
        return Check("masakari", False, "cannot query Masakari: %s" % cause(
            exc, conn, "instance-ha"))
    if found is None:
        return Check("masakari", False, (
            "host %r is not registered in any failover segment: Masakari "
            "would refuse every notification (400). Register it, or set "
            "[DEFAULT] hostname to its Masakari name." % conf.hostname))
    segment, host = found
    return Check("masakari", not host.on_maintenance,
                 "host %r in segment %r%s" % (
                     conf.hostname, segment,
                     " is ON MAINTENANCE: notifications get 409"
                     if host.on_maintenance else ""))


def _nova(conf):
    conn = None
    try:
        conn = masakari.connect(conf)
        services = list(conn.compute.services(host=conf.hostname,
                                              binary="nova-compute"))
    except Exception as exc:  # any failure here is what check reports
        return Check("nova", False, "cannot query Nova: %s" % cause(
            exc, conn, "compute"))
    if not services:
        return Check("nova", False, (
            "no nova-compute service on host %r: every recovery would be "
            "refused (servers are matched by host). Set [DEFAULT] hostname "
            "to Nova's name for this host." % conf.hostname))
    return Check("nova", True, "recovery through Nova for nova-compute on "
                 "%r (%s, %s)" % (conf.hostname, services[0].status,
                                  services[0].state))


def _libvirt_backend(conf):
    return Check("recovery", True, "libvirt backend: domains on %s are "
                 "restarted by this monitor; no cloud is asked"
                 % conf.libvirt.connection_uri)


def _nova_servers(conf):
    """The listing a hang verdict waits on (Nova's task states)."""
    conn = None
    try:
        conn = masakari.connect(conf)
        servers = masakari.host_servers(conn, conf.hostname)
    except Exception as exc:  # any failure here is what check reports
        return Check("nova servers", False, (
            "cannot list this host's servers in Nova: %s; hang verdicts "
            "would go ahead without Nova's task state (a guest Nova is "
            "migrating or rebooting could be recovered): the [api] user "
            "needs to list servers of all projects (admin)" % cause(
                exc, conn, "compute")))
    return Check("nova servers", True, "%d servers on %r in Nova; their "
                 "task states excuse hang verdicts" % (len(servers),
                                                       conf.hostname))
