"""Editing a config file in place: values change, nothing else does."""
import pytest

from monitor.conf import edit

BASE = """# site notes: keep me
[DEFAULT]
hostname = compute-9

[introspectiveinstancemonitor]
# tuned after incident 42
guest_monitoring_interval = 10
[api]
auth_type = password
"""


@pytest.mark.parametrize("section,values,expected", [
    ("introspectiveinstancemonitor", {"guest_monitoring_interval": "5"},
     BASE.replace("interval = 10", "interval = 5")),
    ("introspectiveinstancemonitor", {"guest_monitoring_timeout": "1"},
     BASE.replace("[introspectiveinstancemonitor]\n",
                  "[introspectiveinstancemonitor]\n"
                  "guest_monitoring_timeout = 1\n")),
    ("DEFAULT", {"hostname": "compute-10"},
     BASE.replace("compute-9", "compute-10")),
    ("callback", {"retry_interval": "5"},
     BASE + "\n[callback]\nretry_interval = 5\n"),
])
def test_set_options(section, values, expected):
    assert edit.set_options(BASE, section, values) == expected


def test_an_option_of_the_same_name_in_another_section_is_untouched():
    text = "[a]\nx = 1\n[b]\nx = 2\n"
    assert edit.set_options(text, "b", {"x": "3"}) == \
        "[a]\nx = 1\n[b]\nx = 3\n"


def test_commented_out_option_stays_a_comment():
    text = "[a]\n# x = 1\n"
    assert edit.set_options(text, "a", {"x": "2"}) == "[a]\nx = 2\n# x = 1\n"


def test_empty_file():
    assert edit.set_options("", "a", {"x": "2"}) == "[a]\nx = 2\n"
