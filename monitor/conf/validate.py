"""Reject unknown sections and options in the monitor's config files.

oslo.config ignores what it does not know, so a misspelled option (say
``guest_monitor_interval``, as a well-known deployment guide prints it)
silently runs the monitor on defaults.  This check turns that into an error
at start, with a "did you mean" hint.

A ``masakarimonitors.conf`` is read unchanged: the sections and options
of the other masakari monitors are not this monitor's to judge; they are
ignored, one log line each (``ignored``).
"""
import difflib
import glob
import os

from keystoneauth1 import exceptions as ksa_exc
from oslo_config import cfg
from oslo_log import _options as log_options

from monitor import conf as monitor_conf
from monitor.conf import api
from monitor.conf import masakari_monitors
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
        if masakari_monitors.is_theirs(section):
            continue
        if section not in known:
            hint = difflib.get_close_matches(section, known, n=1)
            yield "unknown section [%s]%s" % (
                section, "; did you mean [%s]?" % hint[0] if hint else "")
            continue
        for option in options:
            if option in known[section] or \
                    masakari_monitors.is_theirs(section, option):
                continue
            message = "unknown option %r in [%s]" % (option, section)
            close = difflib.get_close_matches(option, known[section], n=1)
            if close:
                message += "; did you mean %r?" % close[0]
            elif option in everything:
                message += "; it belongs in [%s]" % everything[option]
            yield message


def ignored(conf):
    """One line per section or option of the other masakari monitors in
    the config files (a masakarimonitors.conf read unchanged)."""
    for path in config_files(conf):
        for line in masakari_monitors.ignored(read_sections(path)):
            yield "%s: %s" % (path, line)


def reparse(conf):
    """A new ConfigOpts read from ``conf``'s files as they are now."""
    try:
        return monitor_conf.parse(conf.config_file, conf.config_dir,
                                  conf.project, conf.prog)
    except cfg.Error as exc:
        raise ConfigError(str(exc)) from exc


def check(conf, fresh=False):
    """Raise ConfigError listing every unknown entry of every file, every
    invalid value and every contradiction.  ``fresh``: check the files as
    they are on disk now, not what ``conf`` read at start."""
    if fresh:
        conf = reparse(conf)
    problems = []
    files = {path: read_sections(path) for path in config_files(conf)}
    implied = api.implied_auth_type(files.values())
    for path, sections in files.items():
        auth_type = sections.get(api.GROUP, {}).get(
            "auth_type", [conf[api.GROUP].auth_type or implied])[-1]
        try:
            known = known_options(auth_type)
        except ksa_exc.NoMatchingPlugin:
            problems.append("%s: unknown auth_type %r in [%s]"
                            % (path, auth_type, api.GROUP))
            known = known_options(None)
        problems.extend("%s: %s" % (path, message)
                        for message in unknown_entries(sections, known))
    problems.extend(bad_values(conf))
    problems.extend(contradictions(conf))
    if problems:
        raise ConfigError("\n".join(problems))


def bad_values(conf):
    """Values oslo.config only rejects when the option is first read (at
    some later point of the run): read every one now."""
    for group, opts in monitor_conf.list_opts():
        section = conf if group == "DEFAULT" else conf[group]
        for opt in opts:
            try:
                getattr(section, opt.dest)
            except (cfg.ConfigFileValueError, ValueError) as exc:
                files = [path for path in config_files(conf)
                         if opt.dest in read_sections(path).get(group, {})]
                yield "%s: invalid value for %r in [%s]: %s" % (
                    files[-1] if files else "command line", opt.dest, group,
                    str(exc).split(" is not valid: ")[-1])
            except cfg.NoSuchOptError:  # auth plugin options not loaded
                continue


def contradictions(conf):
    """Options that are each valid but cannot work together."""
    if conf.recovery.backend == recovery.LIBVIRT and \
            conf.introspectiveinstancemonitor.monitor_ha_enabled_only:
        yield ("[introspectiveinstancemonitor] monitor_ha_enabled_only "
               "reads HA_Enabled from Nova, which [recovery] backend = "
               "libvirt runs without; turn one of them off")
