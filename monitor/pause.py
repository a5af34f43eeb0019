"""Pauses that end by themselves: how long, until when, and what is wrong
with a request (pure; the clock is given).

An operator steps monitoring out of the way for a while: one server
(``openstack instanceha pause SERVER --for 2h`` writes the end time in the
server's metadata, ``HA_Paused_Until``) or a whole host
(``instanceha-monitor pause --for 1h``, kept in the monitor's store).
Both are an end time in UTC, so a forgotten pause ends on its own, and a
restart or a clock read later changes nothing.

The plugin and the monitor both use this module: a request is refused,
with one line that says why and what to give, before anything changes.
"""
import datetime
import re

# the server metadata key the plugin writes and the monitor reads
METADATA_KEY = "HA_Paused_Until"
DEFAULT_MAX = 7 * 86400  # [recovery] max_pause
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*$", re.I)
FORMAT = "%Y-%m-%dT%H:%M:%SZ"
EXAMPLES = "e.g. 90s, 30m, 2h or 1d"


class PauseError(ValueError):
    """A pause request that cannot be honoured; the message is the one
    line for the operator."""


def duration(text, maximum=DEFAULT_MAX):
    """Seconds of a pause given as ``90s``, ``30m``, ``2h``, ``1d`` (a bare
    number is seconds); PauseError when it is unparsable, not positive or
    longer than ``maximum`` seconds."""
    match = _DURATION.match(str(text))
    if match is None:
        if str(text).strip().startswith("-"):
            raise PauseError("pause length %r is negative: give a positive "
                             "length, %s" % (text, EXAMPLES))
        raise PauseError("pause length %r is not understood: give a number "
                         "with a unit, %s" % (text, EXAMPLES))
    seconds = float(match.group(1)) * UNITS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise PauseError("pause length %r is zero: give a positive length, "
                         "%s (to end a pause, resume)" % (text, EXAMPLES))
    if seconds > maximum:
        raise PauseError("pause length %r is longer than the maximum of %s "
                         "([recovery] max_pause): give a shorter one, or "
                         "disable instance HA instead" % (text,
                                                          human(maximum)))
    return seconds


def human(seconds):
    """``7d``, ``2h``, ``90s``: the largest unit that divides it."""
    for unit in ("d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return "%d%s" % (seconds // UNITS[unit], unit)
    return "%gs" % seconds


def iso(timestamp):
    """The end time as written in HA_Paused_Until and shown in status:
    UTC, whole seconds, ``Z``."""
    return datetime.datetime.fromtimestamp(
        timestamp, datetime.timezone.utc).strftime(FORMAT)


def parse_until(text):
    """The Unix time of an end time in ISO 8601 (``2026-12-03T16:00:00Z``;
    a zone offset is honoured, none means UTC); PauseError otherwise."""
    try:
        when = datetime.datetime.fromisoformat(
            str(text).strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PauseError("%s %r is not a time: expected UTC in ISO 8601, "
                         "e.g. 2026-12-03T16:00:00Z" % (METADATA_KEY,
                                                       text)) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def server_pause(value, now, maximum=DEFAULT_MAX):
    """(until, problem) of a server's HA_Paused_Until as the monitor reads
    it: until None when it is absent, over, or cannot be honoured, and
    then ``problem`` says why when it is not simply absent or over.  An
    end further ahead than ``maximum`` is refused as a whole (a typo of a
    year must not switch a guest's protection off for a year)."""
    if value is None or str(value).strip() == "":
        return None, None
    try:
        until = parse_until(value)
    except PauseError as exc:
        return None, "%s: not paused" % exc
    if until <= now:
        return None, None
    if until - now > maximum:
        return None, ("%s %s is more than %s ahead ([recovery] max_pause): "
                      "not paused" % (METADATA_KEY, value, human(maximum)))
    return until, None


def active(until, now):
    """True while a pause ending at ``until`` (None: none) holds."""
    return until is not None and now < until
