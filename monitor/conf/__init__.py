"""The monitor's configuration, one module per section (oslo.config).

Option names follow masakarimonitors.conf where the two overlap, so an
existing config file keeps working; ``validate`` rejects what oslo.config
would silently ignore.
"""
from oslo_config import cfg
from oslo_log import log

from monitor.conf import api
from monitor.conf import base
from monitor.conf import callback
from monitor.conf import forensics
from monitor.conf import introspective
from monitor.conf import libvirt
from monitor.conf import recovery
from monitor.conf import status

CONF = cfg.CONF

MODULES = (base, libvirt, callback, api, introspective, status, recovery,
           forensics)


def register_opts(conf=CONF):
    for module in MODULES:
        module.register_opts(conf)
    log.register_options(conf)


def parse(config_files, config_dir, project, prog, conf=None):
    """A ConfigOpts with every option registered, read from these files."""
    conf = conf or cfg.ConfigOpts()
    register_opts(conf)
    argv = []
    for path in config_files or []:
        argv += ["--config-file", path]
    if config_dir:
        argv += ["--config-dir", config_dir]
    conf(argv, project=project, prog=prog)
    from monitor.conf import validate  # it imports this module

    api.default_auth_type(conf, [validate.read_sections(path) for path in
                                 validate.config_files(conf)])
    return conf


def list_opts():
    """Entry point for oslo-config-generator (namespace instanceha.monitor)."""
    groups = {}
    for module in MODULES:
        for group, opts in module.list_opts():
            groups.setdefault(group, []).extend(opts)
    return sorted(groups.items(), key=lambda item: item[0] != "DEFAULT")
