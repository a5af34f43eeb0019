"""Shared by every tier."""
import pytest

from tests import monitor_harness as harness


@pytest.fixture
def domains():
    """Domains of the in-process test:///default driver, removed after."""
    doms = harness.TestDomains()
    yield doms
    doms.cleanup()
