"""Reject unknown sections and options in the monitor's config files.

oslo.config ignores what it does not know, so a misspelled option (say
``guest_monitor_interval``, as a well-known deployment guide prints it)
silently runs the monitor on defaults.  This check turns that into an error
at start, with a "did you mean" hint.
"""
import difflib
import glob
import os

from keystoneauth1 import exceptions as ksa_exc
from oslo_config import cfg
from oslo_log import _options as log_options

from monitor import conf as monitor_conf
from monitor.conf import api
from monitor.conf import recovery


class ConfigError(Exception):
    """The config files name sections or options the monitor does not
    have; the message lists every one of them."""


def _names(opts):
    names = set()
    for opt in opts:
        names.add(opt.dest)
        names.add(opt.name)
        for deprecated in opt.deprecated_opts:
            if deprecated.name:
                names.add(deprecated.name.replace("-", "_"))
    return names


def known_options(auth_type=None):
    known = {}
    for group, opts in monitor_conf.list_opts():
        known.setdefault(group, set()).update(_names(opts))
    for group, opts in log_options.list_opts():
        known.setdefault(group or "DEFAULT", set()).update(_names(opts))
    known[api.GROUP] = _names(api.registered_opts())
    if auth_type:
        known[api.GROUP].update(_names(api.auth_plugin_opts(auth_type)))
    return known


def config_files(conf):
    files = list(conf.config_file or [])
    for directory in conf.config_dir and [conf.config_dir] or []:
        files.extend(sorted(glob.glob(os.path.join(directory, "*.conf"))))
    return files


def read_sections(path):
    sections = {}
    cfg.ConfigParser(path, sections).parse()
    return sections


def unknown_entries(sections, known):
    """Yield one message per unknown section or option, with a hint."""
    everything = {name: group for group, names in known.items()
                  for name in names}
    for section, options in sections.items():
        if section not in known:
            hint = difflib.get_close_matches(section, known, n=1)
            yield "unknown section [%s]%s" % (
                section, "; did you mean [%s]?" % hint[0] if hint else "")
            continue
        for option in options:
            if option in known[section]:
                continue
            message = "unknown option %r in [%s]" % (option, section)
            close = difflib.get_close_matches(option, known[section], n=1)
            if close:
                message += "; did you mean %r?" % close[0]
            elif option in everything:
                message += "; it belongs in [%s]" % everything[option]
            yield message


def check(conf):
    """Raise ConfigError listing every unknown entry of every file."""
    problems = []
    for path in config_files(conf):
        sections = read_sections(path)
        auth_type = sections.get(api.GROUP, {}).get("auth_type", [None])[-1]
        try:
            known = known_options(auth_type)
        except ksa_exc.NoMatchingPlugin:
            problems.append("%s: unknown auth_type %r in [%s]"
                            % (path, auth_type, api.GROUP))
            known = known_options(None)
        problems.extend("%s: %s" % (path, message)
                        for message in unknown_entries(sections, known))
    problems.extend(contradictions(conf))
    if problems:
        raise ConfigError("\n".join(problems))


def contradictions(conf):
    """Options that are each valid but cannot work together."""
    if conf.recovery.backend == recovery.LIBVIRT and \
            conf.introspectiveinstancemonitor.monitor_ha_enabled_only:
        yield ("[introspectiveinstancemonitor] monitor_ha_enabled_only "
               "reads HA_Enabled from Nova, which [recovery] backend = "
               "libvirt runs without; turn one of them off")
