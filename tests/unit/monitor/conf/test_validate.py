"""The monitor's config: masakari-monitors names, and loud misspellings."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from oslo_config import cfg

from monitor import conf as monitor_conf
from monitor.conf import validate


@pytest.fixture
def load(tmp_path):
    def load(text):
        path = tmp_path / "instanceha-monitor.conf"
        path.write_text(textwrap.dedent(text))
        conf = cfg.ConfigOpts()
        monitor_conf.register_opts(conf)
        conf(["--config-file", str(path)], project="instanceha")
        return conf, str(path)
    return load


def test_masakari_monitors_config_is_accepted(load):
    conf, _ = load("""\
        [DEFAULT]
        hostname = compute-7
        debug = true
        log_file = /var/log/masakari/monitor.log
        [libvirt]
        connection_uri = qemu+tcp://compute-7/system
        [callback]
        retry_max = 12
        retry_interval = 10
        [introspectiveinstancemonitor]
        guest_monitoring_interval = 5
        guest_monitoring_timeout = 1
        guest_monitoring_failure_threshold = 4
        [api]
        region = RegionTwo
        api_interface = internal
        auth_type = password
        auth_url = http://keystone/v3
        username = masakari
        password = secret
        project_name = service
        user_domain_id = default
        project_domain_id = default
        cafile = /etc/ssl/ca.pem
        """)
    validate.check(conf)
    assert conf.hostname == "compute-7"
    assert conf.libvirt.connection_uri == "qemu+tcp://compute-7/system"
    assert conf.introspectiveinstancemonitor.guest_monitoring_interval == 5
    assert conf.api.region == "RegionTwo"
    assert conf.api.api_interface == "internal"


def test_noauth_with_endpoint_override_is_accepted(load):
    conf, _ = load("""\
        [api]
        auth_type = none
        endpoint_override = http://127.0.0.1:15868/v1
        """)
    validate.check(conf)
    assert conf.api.endpoint_override == "http://127.0.0.1:15868/v1"


def test_every_unknown_entry_is_reported_with_a_hint(load):
    conf, path = load("""\
        [introspectiveinstancemonitor]
        guest_monitor_interval = 5
        guest_monitor_timeout = 1
        [libvirtt]
        connection_uri = test:///default
        [callback]
        connection_uri = qemu:///system
        [api]
        auth_type = password
        usernme = masakari
        """)
    with pytest.raises(validate.ConfigError) as error:
        validate.check(conf)
    assert str(error.value).splitlines() == [
        "%s: unknown option 'guest_monitor_interval' in "
        "[introspectiveinstancemonitor]; did you mean "
        "'guest_monitoring_interval'?" % path,
        "%s: unknown option 'guest_monitor_timeout' in "
        "[introspectiveinstancemonitor]; did you mean "
        "'guest_monitoring_timeout'?" % path,
        "%s: unknown section [libvirtt]; did you mean [libvirt]?" % path,
        "%s: unknown option 'connection_uri' in [callback]; it belongs in "
        "[libvirt]" % path,
        "%s: unknown option 'usernme' in [api]; did you mean "
        "'username'?" % path,
    ]


def test_auth_plugin_options_depend_on_auth_type(load):
    conf, path = load("""\
        [api]
        auth_type = none
        username = masakari
        """)
    with pytest.raises(validate.ConfigError, match="unknown option "
                       "'username' in \\[api\\]"):
        validate.check(conf)


def test_sample_generator_lists_every_section():
    groups = dict(monitor_conf.list_opts())
    assert list(groups)[0] == "DEFAULT"
    assert {"DEFAULT", "libvirt", "callback", "api",
            "introspectiveinstancemonitor"} <= set(groups)
    api_names = {opt.dest for opt in groups["api"]}
    assert {"region", "api_interface", "auth_type", "endpoint_override",
            "auth_url", "username", "cafile"} <= api_names
    assert "region_name" not in api_names  # [api] region says it already


def test_unknown_auth_type_is_reported(load):
    conf, path = load("""\
        [api]
        auth_type = pasword
        """)
    with pytest.raises(validate.ConfigError, match="unknown auth_type "
                       "'pasword' in \\[api\\]"):
        validate.check(conf)


def test_instanceha_monitor_refuses_to_start_on_a_misspelled_option(
        tmp_path, capsys):
    from monitor import cmd

    path = tmp_path / "bad.conf"
    path.write_text("[introspectiveinstancemonitor]\n"
                    "guest_monitor_interval = 5\n")
    with pytest.raises(SystemExit) as exit_info:
        cmd.main(["start", "--config-file", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "instanceha-monitor: configuration error:" in err
    assert "did you mean 'guest_monitoring_interval'?" in err


def test_recovery_backend_is_chosen_by_name(load):
    conf, _ = load("""\
        [recovery]
        backend = nova
        nova_action_timeout = 60
        """)
    validate.check(conf)
    assert (conf.recovery.backend, conf.recovery.nova_action_timeout) == (
        "nova", 60)
    conf, _ = load("[recovery]\nbackend = ironic\n")
    with pytest.raises(ValueError, match="ironic"):
        print(conf.recovery.backend)


def test_libvirt_backend_cannot_read_ha_enabled_from_nova(load):
    conf, _ = load("""\
        [introspectiveinstancemonitor]
        monitor_ha_enabled_only = true
        [recovery]
        backend = libvirt
        """)
    with pytest.raises(validate.ConfigError,
                       match="monitor_ha_enabled_only.*backend = libvirt"):
        validate.check(conf)


def test_committed_sample_config_is_what_the_generator_writes(tmp_path):
    """etc/instanceha-monitor.conf.sample is the config reference the
    documentation includes; regenerate it with ``tox -e genconfig``."""
    repo = Path(__file__).resolve().parents[4]
    out = tmp_path / "sample.conf"
    subprocess.run(
        [str(Path(sys.executable).with_name("oslo-config-generator")),
         "--config-file",
         str(repo / "etc/instanceha-monitor-config-generator.conf"),
         "--output-file", str(out)], check=True, cwd=repo)
    assert out.read_text() == (
        repo / "etc/instanceha-monitor.conf.sample").read_text(), \
        "stale sample: run tox -e genconfig"


def test_bad_values_are_reported_before_the_monitor_reads_them(load):
    conf, path = load("""\
        [introspectiveinstancemonitor]
        guest_monitoring_interval = ten
        guest_monitoring_timeout = 0
        """)
    with pytest.raises(validate.ConfigError) as error:
        validate.check(conf)
    assert str(error.value).splitlines() == [
        "%s: invalid value for 'guest_monitoring_interval' in "
        "[introspectiveinstancemonitor]: invalid literal for int() with "
        "base 10: 'ten'" % path,
        "%s: invalid value for 'guest_monitoring_timeout' in "
        "[introspectiveinstancemonitor]: Should be greater than or equal "
        "to 1" % path]


# A masakarimonitors.conf as deployment guides write it (kolla-ansible's
# template, a charm's): shared by every masakari monitor on the host.
DEPLOYED = """\
    [DEFAULT]
    debug = False
    log_dir = /var/log/kolla/masakari
    hostname = compute-7
    monkey_patch = False
    [api]
    region = RegionOne
    auth_url = http://keystone:5000/v3
    user_domain_id = default
    project_name = service
    project_domain_id = default
    username = masakari
    password = secret
    api_interface = internal
    api_version = v1
    [libvirt]
    connection_uri = qemu+tcp://compute-7/system
    [host]
    monitoring_driver = default
    pacemaker_node_type = remote
    corosync_multicast_interfaces = eth1
    corosync_multicast_ports = 5405
    [process]
    process_list_path = /etc/masakari-monitors/process_list.yaml
    [consul]
    agent_manage = 127.0.0.1:8500
    [introspectiveinstancemonitor]
    guest_monitoring_interval = 10
    """


def test_a_masakarimonitors_conf_as_deployed_starts_unchanged(load):
    conf, path = load(DEPLOYED)
    validate.check(conf)
    assert conf.hostname == "compute-7"
    assert conf.api.region == "RegionOne"
    lines = [line.partition(": ")[2] for line in validate.ignored(conf)]
    assert all(line.startswith(path + ": ")
               for line in validate.ignored(conf))
    assert lines == [
        "monkey_patch in [DEFAULT] belongs to masakari-monitors (eventlet): "
        "ignored",
        "api_version in [api] belongs to masakari-monitors' client "
        "(openstacksdk negotiates the version here): ignored",
        "[host] belongs to masakari-hostmonitor: ignored",
        "[process] belongs to masakari-processmonitor: ignored",
        "[consul] belongs to masakari-hostmonitor (consul driver): ignored"]


def test_misspellings_next_to_the_other_monitors_are_still_refused(load):
    conf, path = load(DEPLOYED.replace(
        "guest_monitoring_interval = 10", "guest_monitor_interval = 10"
    ).replace("connection_uri = qemu+tcp", "conection_uri = qemu+tcp"))
    with pytest.raises(validate.ConfigError) as refused:
        validate.check(conf)
    assert str(refused.value).splitlines() == [
        "%s: unknown option 'conection_uri' in [libvirt]; did you mean "
        "'connection_uri'?" % path,
        "%s: unknown option 'guest_monitor_interval' in "
        "[introspectiveinstancemonitor]; did you mean "
        "'guest_monitoring_interval'?" % path]


def test_a_masakarimonitors_conf_authenticates_with_password_as_there(
        tmp_path):
    """masakari-monitors defaults [api] auth_type to password; its files
    name none. Without that default the monitor would load no auth plugin
    and never reach Masakari."""
    path = tmp_path / "masakarimonitors.conf"
    path.write_text(textwrap.dedent(DEPLOYED))
    conf = monitor_conf.parse([str(path)], None, "instanceha", "test")
    assert conf.api.auth_type == "password"
    path.write_text("[api]\nauth_type = none\n")
    assert monitor_conf.parse([str(path)], None, "instanceha",
                              "test").api.auth_type == "none"
    path.write_text("[DEFAULT]\nhostname = h\n")
    assert monitor_conf.parse([str(path)], None, "instanceha",
                              "test").api.auth_type is None
