"""/healthz's verdict as a table: what answers 200, what 503, and which
requirements a check may add."""
import pytest
from multidict import MultiDict

from monitor import status_http

UP = {"connected": True}
DOWN = {"connected": False, "last_error": "Connection refused"}


@pytest.mark.parametrize("state, require, healthy", [
    ({"ok": True, "libvirt": UP}, (), True),
    ({"ok": True, "libvirt": DOWN}, (), True),  # liveness: it reconnects
    ({"ok": True, "libvirt": UP}, ("libvirt",), True),
    ({"ok": True, "libvirt": DOWN}, ("libvirt",), False),
    ({"ok": True}, ("libvirt",), False),  # not known to be connected
    ({"ok": False, "libvirt": UP}, (), False),  # the store cannot commit
    ({"ok": False, "libvirt": UP}, ("libvirt",), False),
])
def test_healthy(state, require, healthy):
    assert status_http.healthy(state, require) is healthy


@pytest.mark.parametrize("query, names", [
    ([], []),
    ([("require", "libvirt")], ["libvirt"]),
    ([("require", "libvirt,")], ["libvirt"]),
    ([("require", "libvirt"), ("require", "libvirt")],
     ["libvirt", "libvirt"]),
])
def test_requirements(query, names):
    assert status_http.requirements(MultiDict(query)) == names


@pytest.mark.parametrize("query", [[("require", "libvrit")],
                                   [("require", "libvirt,store")]])
def test_an_unknown_requirement_is_refused_not_ignored(query):
    """A misspelt requirement would otherwise make a check that can never
    fail for the reason it was written for."""
    with pytest.raises(status_http.UnknownRequirement) as refused:
        status_http.requirements(MultiDict(query))
    assert "one of libvirt" in str(refused.value)
