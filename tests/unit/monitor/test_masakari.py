"""The cloud connection made from ``[api]``."""
from monitor import masakari
from tests import monitor_harness as harness


def connect(tmp_path, api_options):
    path = harness.write_conf(tmp_path, "[api]\nauth_type = none\n"
                              "endpoint_override = http://127.0.0.1:9/\n"
                              + api_options)
    return masakari.connect(harness.load_conf(path)).config


def test_defect_adapter_options_reach_the_sdk(tmp_path):
    """[api] listed keystoneauth's adapter options (retries, version) in
    the sample config and accepted them, but the connection never read
    them: setting one silently did nothing."""
    config = connect(tmp_path, "version = 1\nconnect_retries = 4\n"
                     "connect_retry_delay = 0.5\nstatus_code_retries = 3\n"
                     "status_code_retry_delay = 2\n"
                     "retriable_status_codes = 502,503\n"
                     "api_interface = internal\n")
    for service in ("instance-ha", "compute"):
        assert config.get_connect_retries(service) == 4
        assert config.get_connect_retry_delay(service) == 0.5
        assert config.get_status_code_retries(service) == 3
        assert config.get_status_code_retry_delay(service) == 2
        assert config.get_retriable_status_codes(service) == [502, 503]
        assert config.get_interface(service) == "internal"
    assert config.get_api_version("instance-ha") == "1"
    assert config.get_endpoint("instance-ha") == "http://127.0.0.1:9/"
    assert config.get_endpoint("compute") is None


def test_unset_adapter_options_leave_the_sdk_defaults(tmp_path):
    config = connect(tmp_path, "")
    assert config.get_status_code_retries("instance-ha") is None
    assert config.get_interface("compute") == "public"
