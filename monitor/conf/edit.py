"""Set options in a config file in place, keeping everything else.

configparser would rewrite the file without its comments; operators keep
notes there, so the edit works on lines: an option already set in its
section is replaced where it stands, a new one goes right after the section
header, a missing section is appended.
"""
import re

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")


def _option(name):
    return re.compile(r"^\s*%s\s*[=:]" % re.escape(name))


def set_options(text, section, values):
    """Return ``text`` with ``values`` (name -> str) set in ``section``."""
    lines = text.splitlines()
    start = end = None
    for index, line in enumerate(lines):
        match = _SECTION.match(line)
        if match:
            if start is not None and end is None:
                end = index
            if match.group("name").strip() == section:
                start, end = index, None
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines.append("[%s]" % section)
        start, end = len(lines) - 1, len(lines)
    if end is None:
        end = len(lines)
    pending = dict(values)
    for index in range(start + 1, end):
        for name in list(pending):
            if _option(name).match(lines[index]):
                lines[index] = "%s = %s" % (name, pending.pop(name))
    insert = ["%s = %s" % item for item in pending.items()]
    lines[start + 1:start + 1] = insert
    return "\n".join(lines) + "\n"
