"""A small real cloud on 127.0.0.1 for tests and the demo.

Keystone 30, Glance 33 and Masakari 22 (API and engine in one process) run
from PyPI in a virtualenv of their own, pinned by ``peers-constraints.txt``,
with SQLite databases in a work directory.  Nova comes in two kinds:

- ``nova="emulator"`` (the default): ``nova_emulator.py`` stands in for Nova
  and Cinder and is registered in Keystone's catalog like the real services,
  so Masakari's engine and openstacksdk find it the usual way.  It starts
  at once and seeds servers in any state without guests.
- ``nova="real"``: Nova 34 and Placement 16 from the same virtualenv, on
  MariaDB and RabbitMQ from Debian, with a Neutron stand-in (``real_nova.py``);
  nova-compute runs the fake virt driver or, with
  ``compute_driver="libvirt"``, the host's libvirtd.  No Cinder.

    cloud = LocalCloud(workdir)          # or LocalCloud(workdir, nova="real")
    cloud.start()            # builds the peers' venv on first use
    cloud.clouds_yaml        # 'admin' and 'demo' (non-admin) clouds
    cloud.stop()

``python -m tools.cloud.peers start|stop WORKDIR`` does the same from a
shell (``start --nova real [--compute-driver libvirt]`` for real Nova).
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CONSTRAINTS = HERE / "peers-constraints.txt"
PEER_PACKAGES = ["masakari==22.0.0", "keystone==30.0.0", "glance==33.0.0",
                 "nova==34.0.0", "openstack-placement==16.0.0", "PyMySQL",
                 "gunicorn"]
PASSWORD = "secret"
DEMO_PASSWORD = "demo-secret"
REGION = "RegionOne"
# What the services use, stopped after them (real Nova's).
INFRA = ("rabbitmq", "epmd", "mariadb")


def cache_dir():
    return Path(os.environ.get("INSTANCEHA_CACHE", REPO / ".cache"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_peers_venv(log=print):
    """Create (or reuse) the peers' virtualenv; its key is the constraints."""
    venv = cache_dir() / "peers-venv"
    digest = hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()
    marker = venv / ".instanceha-constraints"
    if marker.exists() and marker.read_text() == digest:
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    log("building the peers' virtualenv (Keystone, Glance, Masakari, Nova, "
        "Placement) in %s" % venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                    "--disable-pip-version-check", "-c", str(CONSTRAINTS)]
                   + PEER_PACKAGES, check=True)
    marker.write_text(digest)
    return venv


def wait_http(url, timeout=90, process=None, log_file=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = Path(log_file).read_text()[-3000:] if log_file else ""
            raise RuntimeError("%s exited with %s while starting:\n%s"
                               % (url, process.returncode, tail))
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers; an auth error is an answer
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s did not answer within %s s" % (url, timeout))


class LocalCloud:
    def __init__(self, workdir, libvirt_uri=None, nova="emulator",
                 compute_driver="fake", **real_nova_options):
        """``libvirt_uri``: the emulator's server actions act on the real
        domains of this hypervisor (the lab).  ``nova``: "emulator" or
        "real"; ``compute_driver`` ("fake" or "libvirt") and
        ``real_nova_options`` (``compute_host``, ``mem_stats_period``):
        real Nova's."""
        if nova not in ("emulator", "real"):
            raise ValueError("nova must be 'emulator' or 'real'")
        self.libvirt_uri = libvirt_uri
        self.workdir = Path(workdir).resolve()
        self.state_file = self.workdir / "cloud.json"
        self.procs = {}
        self.venv = None
        self.ports = {}
        self.real_nova = None
        if nova == "real":
            from tools.cloud import real_nova

            self.real_nova = real_nova.RealNova(self, compute_driver,
                                                **real_nova_options)

    # -- addresses -----------------------------------------------------
    def url(self, name):
        return "http://127.0.0.1:%d" % self.ports[name]

    @property
    def keystone_url(self):
        return self.url("keystone") + "/v3"

    @property
    def masakari_url(self):
        return self.url("masakari") + "/v1"

    @property
    def emulator_url(self):
        if self.real_nova is not None:
            raise RuntimeError("this cloud runs real Nova, no emulator")
        return self.url("nova")

    @property
    def neutron_url(self):
        """The Neutron stand-in (real Nova only)."""
        return self.url("neutron")

    @property
    def clouds_yaml(self):
        return self.workdir / "clouds.yaml"

    # -- lifecycle -----------------------------------------------------
    def start(self, log=print):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.venv = ensure_peers_venv(log)
        started = time.monotonic()
        real = self.real_nova
        names = ["keystone", "glance", "masakari", "nova"]
        self.ports = {name: free_port()
                      for name in names + (list(real.PORTS) if real else [])}
        self._save_state()
        try:
            if real:  # MariaDB and RabbitMQ start while Keystone does
                real.start_infra(log)
                started = real.started
            self._start_keystone()
            self._register_catalog()
            if real:
                real.start_rabbitmq()
            else:
                self._spawn("nova", [
                    sys.executable, str(HERE / "nova_emulator.py"),
                    "--port", str(self.ports["nova"]),
                    "--keystone", self.url("keystone")] + (
                        ["--libvirt", self.libvirt_uri] if self.libvirt_uri
                        else []))
                wait_http(self.url("nova") + "/compute")
            self._start_glance()
            self._start_masakari()
            if real:
                real.start_services(log)
            self._write_clouds_yaml()
        except BaseException:
            self.stop()
            raise
        if real:
            log("local cloud up in %.1f s (Keystone %s, Glance %s, Masakari "
                "%s, Nova %s with %s, compute host %s)" % (
                    time.monotonic() - started, self.url("keystone"),
                    self.url("glance"), self.url("masakari"),
                    self.url("nova"), real.compute_driver,
                    real.compute_host))
        else:
            log("local cloud up in %.1f s (Keystone %s, Glance %s, Masakari "
                "%s, Nova emulator %s)" % (
                    time.monotonic() - started, self.url("keystone"),
                    self.url("glance"), self.url("masakari"),
                    self.url("nova")))
        return self

    def stop(self):
        """SIGTERM to every process group started, the services first and
        then what they use (RabbitMQ, epmd, MariaDB), SIGKILL to what is
        still there after 10 s."""
        if self.real_nova is not None:  # its nova-manage commands first
            self.real_nova.cancel()
        pids = dict(self._load_state().get("pids", {}))
        pids.update({name: proc.pid for name, proc in self.procs.items()})
        for phase in ([n for n in pids if n not in INFRA],
                      [n for n in INFRA if n in pids]):
            self._stop_group({name: pids[name] for name in phase})
        self.procs.clear()
        self._save_state()

    def _stop_group(self, pids):
        for pid in pids.values():
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 10
        for name, pid in pids.items():
            # The whole group: a shell or master may exit before the
            # processes it started (RabbitMQ's script, workers).
            while time.monotonic() < deadline and _group_alive(pid):
                time.sleep(0.05)
            if _group_alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if name in self.procs:
                self.procs[name].wait()
            while _group_alive(pid) and time.monotonic() < deadline + 5:
                time.sleep(0.05)  # after SIGKILL

    def stop_service(self, name):
        """Stop one service (e.g. to test a Masakari outage)."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        self._save_state()

    def start_masakari(self):
        """(Re)start Masakari on its port, keeping its database."""
        self._spawn_masakari()

    # -- helpers -------------------------------------------------------
    def _bin(self, name):
        return str(self.venv / "bin" / name)

    def _spawn(self, name, argv, env=None):
        log_file = self.workdir / ("%s.log" % name)
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.workdir,
                env=dict(os.environ, **(env or {})), start_new_session=True)
        self.procs[name] = proc
        self._save_state()
        return proc, log_file

    def _run(self, argv, env=None):
        result = subprocess.run(argv, capture_output=True, text=True,
                                cwd=self.workdir,
                                env=dict(os.environ, **(env or {})))
        if result.returncode:
            raise RuntimeError("%s failed:\n%s%s" % (
                " ".join(argv), result.stdout[-2000:], result.stderr[-3000:]))

    def _save_state(self):
        self.state_file.write_text(json.dumps({
            "ports": self.ports,
            "venv": str(self.venv) if self.venv else None,
            "pids": {name: proc.pid for name, proc in self.procs.items()},
        }))

    def _load_state(self):
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def admin_auth_section(self, name, **more):
        """An oslo.config section authenticating as this cloud's admin with
        a password (keystoneauth's options), with ``more`` options."""
        options = dict(auth_type="password", auth_url=self.keystone_url,
                       username="admin", password=PASSWORD,
                       project_name="admin", user_domain_name="Default",
                       project_domain_name="Default", **more)
        return "[%s]\n%s\n" % (name, "\n".join(
            "%s = %s" % item for item in options.items()))

    def _authtoken_section(self):
        return self.admin_auth_section(
            "keystone_authtoken", www_authenticate_uri=self.keystone_url,
            memcached_servers="", service_token_roles_required="false")

    # -- Keystone ------------------------------------------------------
    def _start_keystone(self):
        d = self.workdir / "keystone"
        (d / "fernet-keys").mkdir(parents=True, exist_ok=True)
        (d / "credential-keys").mkdir(parents=True, exist_ok=True)
        conf = d / "keystone.conf"
        conf.write_text(textwrap.dedent("""\
            [DEFAULT]
            use_stderr = true
            [database]
            connection = sqlite:///{d}/keystone.db
            [fernet_tokens]
            key_repository = {d}/fernet-keys
            [credential]
            key_repository = {d}/credential-keys
            [cache]
            enabled = true
            backend = dogpile.cache.memory
            [identity]
            password_hash_rounds = 4
            """).format(d=d))
        manage = [self._bin("keystone-manage"), "--config-file", str(conf)]
        self._run(manage + ["db_sync"])
        self._run(manage + ["fernet_setup", "--keystone-user", "root",
                            "--keystone-group", "root"])
        self._run(manage + ["credential_setup", "--keystone-user", "root",
                            "--keystone-group", "root"])
        self._run(manage + [
            "bootstrap", "--bootstrap-password", PASSWORD,
            "--bootstrap-admin-url", self.keystone_url,
            "--bootstrap-public-url", self.keystone_url,
            "--bootstrap-internal-url", self.keystone_url,
            "--bootstrap-region-id", REGION])
        proc, log_file = self._spawn(
            "keystone",
            [self._bin("python"), str(HERE / "wsgi_service.py"), "keystone",
             "127.0.0.1:%d" % self.ports["keystone"]],
            env={"OS_KEYSTONE_CONFIG_FILES": str(conf)})
        wait_http(self.keystone_url, process=proc, log_file=log_file)

    def _register_catalog(self):
        """Services, endpoints and a non-admin 'demo' user, through the SDK."""
        import openstack

        conn = openstack.connect(
            auth_url=self.keystone_url, username="admin", password=PASSWORD,
            project_name="admin", user_domain_name="Default",
            project_domain_name="Default", region_name=REGION)
        services = [
            ("glance", "image", self.url("glance")),
            ("masakari", "instance-ha", self.masakari_url),
        ]
        if self.real_nova:
            services += self.real_nova.catalog()
        else:
            services += [
                ("nova", "compute", self.url("nova") + "/compute/v2.1"),
                ("cinderv3", "block-storage",
                 self.url("nova") + "/volume/v3")]
        for name, service_type, url in services:
            service = conn.identity.create_service(name=name,
                                                   type=service_type)
            for interface in ("public", "internal", "admin"):
                conn.identity.create_endpoint(
                    service_id=service.id, interface=interface, url=url,
                    region_id=REGION)
        project = conn.identity.create_project(name="demo",
                                               domain_id="default")
        user = conn.identity.create_user(name="demo", password=DEMO_PASSWORD,
                                         domain_id="default",
                                         default_project_id=project.id)
        member = conn.identity.find_role("member")
        conn.identity.assign_project_role_to_user(project, user, member)
        conn.close()

    # -- Glance --------------------------------------------------------
    def _start_glance(self):
        d = self.workdir / "glance"
        (d / "images").mkdir(parents=True, exist_ok=True)
        (d / "staging").mkdir(parents=True, exist_ok=True)
        (d / "glance-api.conf").write_text(textwrap.dedent("""\
            [DEFAULT]
            use_stderr = true
            enabled_backends = file:file
            worker_self_reference_url = {url}
            [glance_store]
            default_backend = file
            [file]
            filesystem_store_datadir = {d}/images
            [os_glance_staging_store]
            filesystem_store_datadir = {d}/staging
            [os_glance_tasks_store]
            filesystem_store_datadir = {d}/tasks
            [database]
            connection = sqlite:///{d}/glance.db
            [paste_deploy]
            flavor = keystone
            [oslo_policy]
            enforce_new_defaults = true
            """).format(d=d, url=self.url("glance"))
            + self._authtoken_section())
        shutil.copy(self.venv / "etc" / "glance" / "glance-api-paste.ini",
                    d / "glance-api-paste.ini")
        env = {"OS_GLANCE_CONFIG_DIR": str(d)}
        self._run([self._bin("glance-manage"), "--config-dir", str(d),
                   "db_sync"], env=env)
        proc, log_file = self._spawn(
            "glance",
            [self._bin("python"), str(HERE / "wsgi_service.py"), "glance",
             "127.0.0.1:%d" % self.ports["glance"]], env=env)
        wait_http(self.url("glance") + "/versions", process=proc,
                  log_file=log_file)

    # -- Masakari ------------------------------------------------------
    @property
    def _masakari_waits(self):
        """Masakari's wait_period_after_power_off and _on.  The emulator
        acts at once; real Nova stops a hung guest gracefully first (its
        shutdown_timeout, 60 s, before it destroys it): Masakari's own
        defaults, 180 s and 60 s."""
        return (180, 60) if self.real_nova is not None else (2, 2)

    def _start_masakari(self):
        d = self.workdir / "masakari"
        d.mkdir(parents=True, exist_ok=True)
        conf = d / "masakari.conf"
        off, on = self._masakari_waits
        conf.write_text(textwrap.dedent("""\
            [DEFAULT]
            use_stderr = true
            auth_strategy = keystone
            transport_url = fake://
            rpc_response_timeout = 5
            masakari_api_listen = 127.0.0.1
            masakari_api_listen_port = {port}
            masakari_api_workers = 1
            notification_delay_max = 0
            os_privileged_user_name = admin
            os_privileged_user_password = {pw}
            os_privileged_user_tenant = admin
            os_privileged_user_auth_url = {ks}
            os_user_domain_name = Default
            os_project_domain_name = Default
            os_region_name = {region}
            nova_catalog_admin_info = compute:nova:publicURL
            wait_period_after_power_off = {off}
            wait_period_after_power_on = {on}
            [wsgi]
            api_paste_config = {paste}
            [database]
            connection = sqlite:///{d}/masakari.db
            [taskflow]
            connection = sqlite:///{d}/taskflow.db
            """).format(off=off, on=on, port=self.ports["masakari"],
                        pw=PASSWORD, ks=self.keystone_url, region=REGION, d=d,
                        paste=self.venv / "etc" / "masakari" /
                        "api-paste.ini") + self._authtoken_section())
        self._run([self._bin("masakari-manage"), "--config-file", str(conf),
                   "db", "sync"])
        self._spawn_masakari()

    def _spawn_masakari(self):
        conf = self.workdir / "masakari" / "masakari.conf"
        proc, log_file = self._spawn(
            "masakari", [self._bin("python"),
                         str(HERE / "masakari_service.py"),
                         "--config-file", str(conf)])
        wait_http(self.url("masakari") + "/", process=proc, log_file=log_file)

    # -- clients -------------------------------------------------------
    def monitor_api_section(self):
        """The host monitor's [api] section for this cloud (admin)."""
        return self.admin_auth_section("api", region=REGION)

    def _write_clouds_yaml(self):
        def cloud(user, password, project):
            return {"auth": {"auth_url": self.keystone_url,
                             "username": user, "password": password,
                             "project_name": project,
                             "user_domain_name": "Default",
                             "project_domain_name": "Default"},
                    "region_name": REGION, "identity_api_version": 3}
        clouds = {"clouds": {"admin": cloud("admin", PASSWORD, "admin"),
                             "demo": cloud("demo", DEMO_PASSWORD, "demo")}}
        # JSON is YAML: no YAML library needed to write it.
        self.clouds_yaml.write_text(json.dumps(clouds, indent=2))


def _group_alive(pgid):
    """Whether a process of this group runs (zombies do not count)."""
    alive = _alive(pgid)  # reaps the leader when it is our child
    if alive:
        return True
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours still counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        pass
    try:  # and so does anyone's zombie (not yet reaped by its parent)
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def main(argv=None):
    parser = argparse.ArgumentParser(description="local test cloud")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("workdir")
    parser.add_argument(
        "--nova", choices=["emulator", "real"], default="emulator",
        help="start: the Nova/Cinder emulator (default) or real Nova 34 "
             "with Placement, MariaDB, RabbitMQ and a Neutron stand-in")
    parser.add_argument(
        "--compute-driver", choices=["fake", "libvirt"], default="fake",
        help="start --nova real: nova-compute's virt driver (libvirt: the "
             "host's libvirtd, which must be running)")
    args = parser.parse_args(argv)
    cloud = LocalCloud(args.workdir, nova=args.nova,
                       compute_driver=args.compute_driver)
    if args.action == "start":
        cloud.start()
        print("OS_CLIENT_CONFIG_FILE=%s" % cloud.clouds_yaml)
    else:
        cloud.stop()


if __name__ == "__main__":
    main()
