"""What a ``masakarimonitors.conf`` holds that this monitor does not read.

That file is shared by every masakari monitor on a host (hostmonitor,
processmonitor, instancemonitor, introspectiveinstancemonitor), so moving
over means starting on it unchanged: the sections and options that belong
to the other monitors are ignored, each with one log line, while a
misspelling in a section this monitor reads is still refused
(``validate``).

The table is masakari-monitors 22.0.0's own options (its config
generator, namespace ``masakarimonitors.conf``); the functional tier
generates that sample and checks the table against it.
"""

# section -> who reads it
SECTIONS = {
    "host": "masakari-hostmonitor",
    "consul": "masakari-hostmonitor (consul driver)",
    "kubernetes": "masakari-hostmonitor (kubernetes driver)",
    "process": "masakari-processmonitor",
}

# options of masakari-monitors in the sections this monitor reads too
OPTIONS = {
    "DEFAULT": {
        "tempdir": "masakari-monitors",
        "monkey_patch": "masakari-monitors (eventlet)",
        "instancemonitor_manager": "masakari-instancemonitor",
        "introspectiveinstancemonitor_manager":
            "masakari-introspectiveinstancemonitor",
        "processmonitor_manager": "masakari-processmonitor",
        "hostmonitor_manager": "masakari-hostmonitor",
    },
    "api": {
        # python-masakariclient's API version; this monitor uses
        # openstacksdk, which negotiates it
        "api_version": "masakari-monitors' client (openstacksdk "
                       "negotiates the version here)",
    },
}


def ignored(sections):
    """One line per section or option of the other masakari monitors in
    ``sections`` (a parsed file: section -> options)."""
    for section, options in sections.items():
        if section in SECTIONS:
            yield "[%s] belongs to %s: ignored" % (section, SECTIONS[section])
            continue
        for option in options:
            if option in OPTIONS.get(section, {}):
                yield "%s in [%s] belongs to %s: ignored" % (
                    option, section, OPTIONS[section][option])


def is_theirs(section, option=None):
    if option is None:
        return section in SECTIONS
    return section in SECTIONS or option in OPTIONS.get(section, {})
