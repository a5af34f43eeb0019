"""Fixtures of the test-driver tier: domains of test:///default and
monitors running on the shared loop."""
import pytest

from tests import monitor_harness as harness


@pytest.fixture
def start(tmp_path):
    """start(...) -> RunningMonitor.  ``send``: the backend's stand-in (a
    Recorder by default); ``configured_backend``: use the [recovery]
    backend of the config instead."""
    running = []

    def start(default_options="", send=None, uri="test:///default",
              connected=True, extra="", configured_backend=False):
        conf = harness.load_conf(harness.write_conf(tmp_path, """\
            [DEFAULT]
            hostname = compute-1
            state_path = %s
            %s
            [libvirt]
            connection_uri = %s
            [status]
            port = 0
            [callback]
            retry_interval = 1
            retry_max_interval = 1
            """.replace("            ", "") % (
                tmp_path / "state", default_options, uri) + extra))
        if not configured_backend:
            send = send or harness.Recorder()
        monitor = harness.RunningMonitor(conf, send=send,
                                         wait_connected=connected)
        running.append(monitor)
        return monitor

    yield start
    for monitor in running:
        if not monitor.task.done():
            monitor.stop()
