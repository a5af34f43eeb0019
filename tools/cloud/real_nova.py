"""Real Nova in the local cloud: Nova 34, Placement 16 and what they need.

``LocalCloud(workdir, nova="real")`` uses this instead of the Nova/Cinder
emulator.  It runs, all on 127.0.0.1, started and stopped by PID like the
other peers:

- MariaDB (Debian's ``mariadb-server-core``): its own datadir, socket, pid
  file and port in the work directory, no systemd; the databases
  ``nova_api``, ``nova``, ``nova_cell0`` and ``placement``.  (SQLite holds
  Nova's schemas too, but four Nova processes on it end in ``database is
  locked`` errors.)
- RabbitMQ (Debian's ``rabbitmq-server``) with an ``epmd`` of its own on a
  free port, its node name, ports, Mnesia and logs in the work directory.
- Placement 16 (``placement.wsgi.api``) and nova-api
  (``nova.wsgi.osapi_compute``) under gunicorn (``wsgi_service.py``),
  both behind the local cloud's real Keystone (keystonemiddleware; Nova 34
  has no noauth pipeline); nova-conductor, nova-scheduler and nova-compute
  as console scripts, from the peers' virtualenv.
- ``neutron_standin.py`` for the network endpoint: servers are booted with
  ``--nic none``, for which Nova only lists ports and networks.

nova-compute runs Nova's fake virt driver (``compute_driver="fake"``: no
guests, actions complete at once) or the libvirt driver
(``compute_driver="libvirt"``: QEMU guests on the host's libvirtd, which
the lab starts; TCG unless the lab found that KVM boots Linux here).

The Debian packages are installed when missing (as root, with apt-get);
``can_run()`` says why that cannot happen, for a loud skip.
"""
import getpass
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from tools import debian
from tools.cloud import peers

HERE = Path(__file__).resolve().parent
PACKAGES = ["mariadb-server-core", "mariadb-client-core", "rabbitmq-server"]
MARIADBD = "/usr/sbin/mariadbd"
MARIADB_INSTALL_DB = "/usr/bin/mariadb-install-db"
MARIADB = "/usr/bin/mariadb"
EPMD = "/usr/bin/epmd"
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
BINARIES = (MARIADBD, MARIADB_INSTALL_DB, MARIADB, EPMD, RABBITMQ_SERVER)
DATABASES = ("nova_api", "nova", "nova_cell0", "placement")
DB_USER = "openstack"
COMPUTE_HOST = "local-compute"
COMPUTE_DRIVERS = {"fake": "fake.FakeDriver",
                   "libvirt": "libvirt.LibvirtDriver"}
LIBVIRT_URI = "qemu:///system"
# The lab's tiny guest as Nova boots it (see guest_images()).
FLAVOR = {"name": "instanceha.tiny", "ram": 128, "vcpus": 1, "disk": 1}
ROOT_DISK_BYTES = 1024 * 1024
# The tiny guest powers off neither on ACPI's power button nor on the
# agent's guest-shutdown (no /sbin/shutdown): a soft reboot waits this long
# (Nova's default: 120 s) before it falls back to a hard reboot.
SOFT_REBOOT_WAIT = 15


def can_run():
    """(True, "") or (False, why real Nova cannot run on this machine)."""
    if sys.platform != "linux":
        return False, "real Nova in the local cloud needs Linux"
    if all(Path(b).exists() for b in BINARIES):
        return True, ""
    if not shutil.which("apt-get") or not shutil.which("dpkg-query"):
        return False, ("MariaDB and RabbitMQ are missing and this is not a "
                       "Debian system (needs %s)" % " ".join(PACKAGES))
    if os.geteuid() != 0:
        return False, ("MariaDB and RabbitMQ are missing and installing "
                       "them needs root: run 'apt-get install "
                       "--no-install-recommends %s' or the tests as root"
                       % " ".join(PACKAGES))
    return True, ""


def ensure_packages(log=print):
    if all(Path(b).exists() for b in BINARIES):
        return
    ok, why = can_run()
    if not ok:
        raise RuntimeError(why)
    debian.install(PACKAGES, log, start_services=False)


def wait_port(port, timeout, process=None, log_file=None, what=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = Path(log_file).read_text()[-3000:] if log_file else ""
            raise RuntimeError("%s exited with %s while starting:\n%s"
                               % (what or port, process.returncode, tail))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s: port %d not open within %s s"
                       % (what or "service", port, timeout))


def lab_virt_type(cache):
    """The lab's answer to "does KVM boot Linux here" (``kvm`` or
    ``qemu``), cached by tools/lab/lab.py; TCG until the lab probed."""
    try:
        answer = (Path(cache) / "lab" / "virt-type").read_text().strip()
    except OSError:
        return "qemu"
    return answer if answer in ("kvm", "qemu") else "qemu"


class RealNova:
    """The real-Nova part of a LocalCloud (see the module docstring)."""

    def __init__(self, cloud, compute_driver="fake",
                 compute_host=COMPUTE_HOST, mem_stats_period=10):
        """``mem_stats_period``: the libvirt driver's
        ``mem_stats_period_seconds`` (the balloon statistics the monitor
        reads; 0 turns them off)."""
        if compute_driver not in COMPUTE_DRIVERS:
            raise ValueError("compute_driver must be one of %s"
                             % ", ".join(COMPUTE_DRIVERS))
        self.cloud = cloud
        self.compute_driver = compute_driver
        self.compute_host = compute_host
        self.mem_stats_period = mem_stats_period
        self.dir = cloud.workdir / "nova"
        self.timings = {}

    PORTS = ("placement", "neutron", "mariadb", "epmd", "rabbitmq",
             "rabbitmq_dist")

    # -- addresses -----------------------------------------------------
    @property
    def transport_url(self):
        return "rabbit://guest:guest@127.0.0.1:%d/" \
            % self.cloud.ports["rabbitmq"]

    def db_url(self, name):
        return "mysql+pymysql://%s:%s@127.0.0.1:%d/%s?charset=utf8" % (
            DB_USER, peers.PASSWORD, self.cloud.ports["mariadb"], name)

    def catalog(self):
        """(name, type, url) of the services this adds to Keystone."""
        cloud = self.cloud
        return [("nova", "compute", cloud.url("nova") + "/v2.1"),
                ("placement", "placement", cloud.url("placement")),
                ("neutron", "network", cloud.url("neutron"))]

    # -- start, in steps that LocalCloud interleaves with its own ------
    def start_infra(self, log=print):
        """MariaDB and epmd, then, in a thread while Keystone, Glance and
        Masakari start: the databases, Placement's and Nova's schemas and
        cells (nova-manage takes 2-5 s a command)."""
        ensure_packages(log)
        if self.compute_driver == "libvirt":
            self._ensure_libvirt_python(log)
        self.started = time.monotonic()
        self._spawn_mariadb()
        self._spawn_epmd()
        self._prepared = None
        self._cancelled = threading.Event()
        self._preparation = threading.Thread(target=self._prepare,
                                             daemon=True)
        self._preparation.start()

    def _prepare(self):
        placement_conf = self.cloud.workdir / "placement" / "placement.conf"
        steps = [
            lambda: self._wait("mariadb", 60),
            self._create_databases,
            self._write_configs,
            lambda: self.cloud._run([
                self.cloud._bin("placement-manage"), "--config-file",
                str(placement_conf), "db", "sync"]),
            lambda: self._manage("api_db", "sync"),
            lambda: self._manage("cell_v2", "map_cell0"),
            lambda: self._manage("cell_v2", "create_cell", "--name",
                                 "cell1"),
            lambda: self._manage("db", "sync"),
        ]
        try:
            for step in steps:
                if self._cancelled.is_set():
                    raise RuntimeError("cancelled")
                step()
            self._done("databases")
            self._prepared = True
        except BaseException as exc:  # handed to start_services()
            self._prepared = exc

    def join(self, timeout=60):
        thread = getattr(self, "_preparation", None)
        if thread is not None:
            thread.join(timeout)

    def cancel(self):
        """Before a stop: the preparation thread ends after the command
        it runs."""
        if getattr(self, "_cancelled", None) is not None:
            self._cancelled.set()
        self.join()

    def start_rabbitmq(self):
        wait_port(self.cloud.ports["epmd"], 10, *self._proc("epmd"),
                  what="epmd")
        self._spawn_rabbitmq()

    def start_services(self, log=print):
        """After Keystone, Glance and Masakari: Placement and Nova."""
        cloud = self.cloud
        self.join(timeout=300)
        if self._prepared is not True:
            raise RuntimeError("preparing Nova's databases failed: %s"
                               % (self._prepared or "timed out"))
        self._spawn_placement()
        cloud._spawn("neutron", [
            sys.executable, str(HERE / "neutron_standin.py"),
            "--port", str(cloud.ports["neutron"])])
        self._wait("rabbitmq", 90)
        # nova-conductor asks Placement for its versions as it starts and
        # exits when nothing answers yet (a cold virtualenv starts slowly)
        peers.wait_http(cloud.url("placement") + "/",
                        process=cloud.procs["placement"],
                        log_file=cloud.workdir / "placement.log")
        self._done("placement")
        conf = str(self.dir / "nova.conf")
        for binary in ("nova-conductor", "nova-scheduler"):
            cloud._spawn(binary, [cloud._bin(binary), "--config-file", conf])
        api, api_log = cloud._spawn(
            "nova-api",
            [cloud._bin("python"), str(HERE / "wsgi_service.py"), "nova",
             "127.0.0.1:%d" % cloud.ports["nova"]],
            env={"OS_NOVA_CONFIG_DIR": str(self.dir),
                 "OS_NOVA_CONFIG_FILES": "api-paste.ini;nova.conf"})
        # nova-compute pings the conductor once it is up and waits 10 s
        # for an answer that a conductor not yet listening never gives.
        self._wait_service_row("nova-conductor", 90)
        cloud._spawn("nova-compute", [
            cloud._bin("nova-compute"), "--config-file",
            str(self.dir / "nova-compute.conf")])
        peers.wait_http(cloud.url("nova") + "/", process=api,
                        log_file=api_log)
        self._done("nova-api")
        wait_port(cloud.ports["neutron"], 10, *self._proc("neutron"),
                  what="neutron stand-in")
        self._wait_compute()
        log("real Nova: " + ", ".join(
            "%s %.1f s" % item for item in self.timings.items()) +
            " after the start (%s driver)" % self.compute_driver)

    # -- MariaDB -------------------------------------------------------
    def _spawn_mariadb(self):
        d = self.cloud.workdir / "mariadb"
        data = d / "data"
        if not (data / "mysql").is_dir():
            d.mkdir(parents=True, exist_ok=True)
            self.cloud._run([MARIADB_INSTALL_DB, "--no-defaults",
                             "--datadir=%s" % data, "--user=%s" % _user(),
                             "--auth-root-authentication-method=normal",
                             "--skip-test-db"])
        self.cloud._spawn("mariadb", [
            MARIADBD, "--no-defaults", "--datadir=%s" % data,
            "--socket=%s" % self.mariadb_socket,
            "--pid-file=%s" % (d / "mariadbd.pid"),
            "--port=%d" % self.cloud.ports["mariadb"],
            "--bind-address=127.0.0.1", "--user=%s" % _user(),
            "--skip-name-resolve", "--max-connections=500",
            "--innodb-buffer-pool-size=64M",
            # A test cloud: no fsync per commit.
            "--innodb-flush-log-at-trx-commit=2",
            "--log-error=%s" % (d / "error.log")])

    @property
    def mariadb_socket(self):
        return self.cloud.workdir / "mariadb" / "mariadbd.sock"

    def _create_databases(self):
        sql = "".join(
            "CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8;" % name
            for name in DATABASES)
        sql += ("CREATE USER IF NOT EXISTS '{u}'@'127.0.0.1' IDENTIFIED BY "
                "'{pw}'; GRANT ALL PRIVILEGES ON *.* TO '{u}'@'127.0.0.1';"
                ).format(u=DB_USER, pw=peers.PASSWORD)
        self.cloud._run([MARIADB, "--no-defaults", "--user=root",
                         "--socket=%s" % self.mariadb_socket, "-e", sql])

    # -- RabbitMQ ------------------------------------------------------
    def _spawn_epmd(self):
        self.cloud._spawn("epmd", [
            EPMD, "-address", "127.0.0.1",
            "-port", str(self.cloud.ports["epmd"])])

    def _spawn_rabbitmq(self):
        d = self.cloud.workdir / "rabbitmq"
        d.mkdir(parents=True, exist_ok=True)
        (d / "rabbitmq-env.conf").write_text("")
        (d / "enabled_plugins").write_text("[].\n")
        (d / "rabbitmq.conf").write_text("")
        ports = self.cloud.ports
        env = {
            "HOME": str(d),  # the Erlang cookie
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(ports["epmd"]),
            "RABBITMQ_NODENAME": "rabbit-%d@localhost" % ports["rabbitmq"],
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(ports["rabbitmq"]),
            "RABBITMQ_DIST_PORT": str(ports["rabbitmq_dist"]),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            # Our epmd or none: Erlang would otherwise start a daemon of
            # its own that nobody stops.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-start_epmd false "
                "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self.cloud._spawn("rabbitmq", [RABBITMQ_SERVER], env=env)

    # -- configuration ---------------------------------------------------
    def _auth_section(self, name):
        return self.cloud.admin_auth_section(name, region_name=peers.REGION)

    def _common(self, conf_path, default=""):
        """What every Nova process reads: messaging, the services it
        talks to, privsep helpers at the venv's privsep-helper (run as
        root: no sudo), a stop within seconds (by default SIGTERM waits
        up to 160 s for the manager, 170 s in all), a resize on the one
        compute host.  ``default``: more [DEFAULT] options."""
        helper = "%s --config-file %s" % (self.cloud._bin("privsep-helper"),
                                          conf_path)
        text = textwrap.dedent("""\
            [DEFAULT]
            use_stderr = true
            host = {host}
            my_ip = 127.0.0.1
            state_path = {d}/state
            instances_path = {d}/instances
            transport_url = {transport}
            graceful_shutdown_timeout = 5
            manager_shutdown_timeout = 3
            allow_resize_to_same_host = true
            {default}[oslo_concurrency]
            lock_path = {d}/lock
            [vnc]
            enabled = false
            [cinder]
            os_region_name = {region}
            """).format(host=self.compute_host, d=self.dir,
                        transport=self.transport_url,
                        region=peers.REGION, default=default)
        text += self._auth_section("placement")
        text += self._auth_section("neutron")
        for section in ("nova_sys_admin", "vif_plug_ovs_privileged",
                        "privsep_osbrick"):
            text += "[%s]\nhelper_command = %s\n" % (section, helper)
        return text

    def _write_configs(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        for sub in ("state", "instances", "lock"):
            (self.dir / sub).mkdir(exist_ok=True)
        shutil.copy(self.cloud.venv / "etc" / "nova" / "api-paste.ini",
                    self.dir / "api-paste.ini")
        conf = self.dir / "nova.conf"
        conf.write_text(self._common(conf) + textwrap.dedent("""\
            [wsgi]
            api_paste_config = {d}/api-paste.ini
            [database]
            connection = {main}
            [api_database]
            connection = {api}
            [conductor]
            workers = 1
            [scheduler]
            workers = 1
            discover_hosts_in_cells_interval = -1
            """).format(d=self.dir, main=self.db_url("nova"),
                        api=self.db_url("nova_api"))
            + self.cloud._authtoken_section())
        compute = self.dir / "nova-compute.conf"
        driver = "compute_driver = %s\n" % COMPUTE_DRIVERS[
            self.compute_driver]
        compute.write_text(self._common(compute, default=driver)
                           + self._driver_section())
        placement = self.cloud.workdir / "placement"
        placement.mkdir(parents=True, exist_ok=True)
        (placement / "placement.conf").write_text(textwrap.dedent("""\
            [DEFAULT]
            use_stderr = true
            [api]
            auth_strategy = keystone
            [placement_database]
            connection = {db}
            """).format(db=self.db_url("placement"))
            + self.cloud._authtoken_section())

    def _driver_section(self):
        """nova-compute's section for its virt driver."""
        text = ""
        if self.compute_driver == "libvirt":
            text += textwrap.dedent("""\
                [libvirt]
                virt_type = {virt}
                cpu_mode = none
                connection_uri = {uri}
                mem_stats_period_seconds = {stats}
                wait_soft_reboot_seconds = {soft}
                """).format(virt=lab_virt_type(peers.cache_dir()),
                            uri=LIBVIRT_URI, stats=self.mem_stats_period,
                            soft=SOFT_REBOOT_WAIT)
        return text

    def _ensure_libvirt_python(self, log):
        """The libvirt driver imports libvirt-python (a source build
        against libvirt's headers); only installed when it is used."""
        python = self.cloud._bin("python")
        if subprocess.run([python, "-c", "import libvirt"],
                          capture_output=True).returncode == 0:
            return
        log("installing libvirt-python into the peers' virtualenv")
        subprocess.run([self.cloud._bin("pip"), "install", "-q",
                        "--disable-pip-version-check", "-c",
                        str(peers.CONSTRAINTS), "libvirt-python"], check=True)

    # -- Placement and Nova --------------------------------------------
    def _spawn_placement(self):
        cloud = self.cloud
        d = cloud.workdir / "placement"
        cloud._spawn(
            "placement",
            [cloud._bin("python"), str(HERE / "wsgi_service.py"),
             "placement", "127.0.0.1:%d" % cloud.ports["placement"]],
            env={"OS_PLACEMENT_CONFIG_DIR": str(d)})

    def _manage(self, *args):
        self.cloud._run([self.cloud._bin("nova-manage"), "--config-file",
                         str(self.dir / "nova.conf"), *args])

    def _wait_compute(self, timeout=120):
        """Until nova-compute has registered its service and its compute
        node (with inventory in Placement); then map it to the cell."""
        import openstack

        conn = openstack.connect(
            auth_url=self.cloud.keystone_url, username="admin",
            password=peers.PASSWORD, project_name="admin",
            user_domain_name="Default", project_domain_name="Default",
            region_name=peers.REGION)
        try:
            deadline = time.monotonic() + timeout
            while True:
                proc, log_file = self._proc("nova-compute")
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(
                        "nova-compute exited with %s:\n%s" % (
                            proc.returncode,
                            Path(log_file).read_text()[-3000:]))
                # The one compute node: named after the host (fake
                # driver) or the hypervisor's hostname (libvirt).
                if any(list(conn.placement.resource_provider_inventories(p))
                       for p in conn.placement.resource_providers()):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "nova-compute registered no resource provider in "
                        "%s s; see %s" % (timeout, log_file))
                time.sleep(0.5)
            self._done("nova-compute")
            self._manage("cell_v2", "discover_hosts")
            services = list(conn.compute.services(binary="nova-compute",
                                                  host=self.compute_host))
            if not services:
                raise RuntimeError("no nova-compute service on %s"
                                   % self.compute_host)
        finally:
            conn.close()

    # -- helpers -------------------------------------------------------
    def _proc(self, name):
        proc = self.cloud.procs.get(name)
        return proc, self.cloud.workdir / ("%s.log" % name)

    def _wait(self, name, timeout):
        wait_port(self.cloud.ports[name], timeout, *self._proc(name),
                  what=name)
        self._done(name)

    def _done(self, name):
        """Seconds from the start of MariaDB until ``name`` was ready."""
        self.timings[name] = time.monotonic() - self.started

    def _wait_service_row(self, binary, timeout):
        """Until ``binary`` has registered its service in Nova's cell
        database (it starts listening on its RPC topic right after)."""
        query = ("SELECT COUNT(*) FROM nova.services WHERE `binary` = '%s' "
                 "AND deleted = 0" % binary)
        deadline = time.monotonic() + timeout
        while True:
            proc, log_file = self._proc(binary)
            if proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (
                    binary, proc.returncode,
                    Path(log_file).read_text()[-3000:]))
            out = subprocess.run(
                [MARIADB, "--no-defaults", "--user=root", "--batch",
                 "--skip-column-names", "--socket=%s" % self.mariadb_socket,
                 "-e", query], capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip() not in ("", "0"):
                self._done(binary)
                return
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not register within %s s; see %s"
                                   % (binary, timeout, log_file))
            time.sleep(0.3)


def _user():
    return getpass.getuser()


# -- images and flavor for servers on real Nova ---------------------------

def guest_images(conn, kernel, initrd, cmdline, name, visibility="public",
                 agent=True, properties=None):
    """The tiny guest as AMI-style images in Glance: the kernel (``aki``),
    the initramfs (``ari``) and a 1 MiB root disk (``ami``) that names
    them, with the kernel command line and any other ``properties``; Nova
    boots the kernel directly.  Returns the ``ami`` image."""
    with open(kernel, "rb") as data:
        aki = conn.image.create_image(
            name=name + "-kernel", disk_format="aki", container_format="aki",
            visibility=visibility, data=data)
    with open(initrd, "rb") as data:
        ari = conn.image.create_image(
            name=name + "-initrd", disk_format="ari", container_format="ari",
            visibility=visibility, data=data)
    properties = dict(properties or {}, kernel_id=aki.id,
                      ramdisk_id=ari.id, os_command_line=cmdline)
    if agent:
        properties["hw_qemu_guest_agent"] = "yes"
    return conn.image.create_image(
        name=name, disk_format="ami", container_format="ami",
        visibility=visibility, data=b"\0" * ROOT_DISK_BYTES, **properties)


def lab_guest_images(conn, name="lab-guest", log=print, **options):
    """guest_images() of the lab's guest (tools/lab/guest.py builds it from
    Debian's kernel, busybox and qemu-guest-agent; needs the lab's
    packages)."""
    from tools.lab import guest

    kernel, initrd, cmdline = guest.build(log)
    return guest_images(conn, kernel, initrd, cmdline, name, **options)


def tiny_flavor(conn, name=None):
    """128 MiB, 1 vCPU, 1 GB root disk (a 0 GB disk would need the admin
    rule for booting zero-disk flavors from images)."""
    spec = dict(FLAVOR, name=name or FLAVOR["name"])
    existing = conn.compute.find_flavor(spec["name"])
    return existing or conn.compute.create_flavor(**spec)
