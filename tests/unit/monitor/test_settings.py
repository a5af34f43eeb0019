"""What the engine runs with, read from the config files."""
import pytest

from monitor import settings
from tests import monitor_harness as harness


@pytest.mark.parametrize("text,fence", [
    ("", True),  # the default: masakari, fence_hung = true
    ("[recovery]\nfence_hung = false\n", False),
    # the nova backend hard-reboots a hung guest, the libvirt one
    # destroys it itself: no clean shutdown to spare them
    ("[recovery]\nbackend = nova\n", False),
    ("[recovery]\nbackend = libvirt\n", False),
])
def test_hung_guests_are_fenced_only_for_the_masakari_backend(
        tmp_path, text, fence):
    conf = harness.load_conf(harness.write_conf(tmp_path, text))
    assert settings.engine(conf).fence_hung is fence
