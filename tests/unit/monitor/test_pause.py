"""Pause lengths and end times: what is honoured and what is refused
with one line, as a table."""
import pytest

from monitor import pause


@pytest.mark.parametrize("text,seconds", [
    ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("45", 45),
    ("1.5h", 5400), (" 2H ", 7200), ("7d", 7 * 86400),
])
def test_lengths(text, seconds):
    assert pause.duration(text) == seconds


@pytest.mark.parametrize("text,message", [
    ("0", "pause length '0' is zero: give a positive length, e.g. 90s, "
     "30m, 2h or 1d (to end a pause, resume)"),
    ("0h", "is zero"),
    ("-1h", "pause length '-1h' is negative: give a positive length"),
    ("2 hours", "pause length '2 hours' is not understood: give a number "
     "with a unit, e.g. 90s, 30m, 2h or 1d"),
    ("", "is not understood"),
    ("1w", "is not understood"),
    ("8d", "pause length '8d' is longer than the maximum of 7d ([recovery] "
     "max_pause): give a shorter one, or disable instance HA instead"),
])
def test_bad_lengths_are_one_line(text, message):
    with pytest.raises(pause.PauseError) as refused:
        pause.duration(text)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_maximum_is_the_one_given():
    assert pause.duration("2h", maximum=7200) == 7200
    with pytest.raises(pause.PauseError, match="maximum of 1h"):
        pause.duration("61m", maximum=3600)


@pytest.mark.parametrize("text,when", [
    ("2026-12-03T16:00:00Z", 1796313600.0),
    ("2026-12-03T16:00:00", 1796313600.0),  # no zone: UTC
    ("2026-12-03T17:00:00+01:00", 1796313600.0),
])
def test_end_times(text, when):
    assert pause.parse_until(text) == when


def test_end_times_round_trip_in_the_metadata_format():
    assert pause.iso(1796313600.0) == "2026-12-03T16:00:00Z"
    assert pause.parse_until(pause.iso(1796313600.0)) == 1796313600.0


@pytest.mark.parametrize("value,now,until,problem", [
    (None, 0, None, None),
    ("", 0, None, None),
    ("1970-01-01T01:00:00Z", 0, 3600.0, None),
    ("1970-01-01T01:00:00Z", 3600, None, None),  # over at its end
    ("1970-01-08T00:00:01Z", 0, None, "more than 7d ahead"),
    ("soon", 0, None, "'soon' is not a time"),
])
def test_a_server_pause_as_the_monitor_reads_it(value, now, until, problem):
    got, why = pause.server_pause(value, now)
    assert got == until
    assert (why is None) == (problem is None)
    if problem:
        assert problem in why and why.endswith("not paused")


@pytest.mark.parametrize("until,now,held", [
    (None, 0, False), (10.0, 9.99, True), (10.0, 10.0, False)])
def test_a_pause_holds_until_its_end(until, now, held):
    assert pause.active(until, now) is held
