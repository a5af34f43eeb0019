"""OpenStackClient plugin hooks for the ``instanceha`` command group."""
import logging

from osc_lib import utils

LOG = logging.getLogger(__name__)

API_NAME = "instanceha"
API_VERSION_OPTION = "os_instanceha_api_version"
# Without a default OSC looks up ``openstack.instanceha.vNone`` and every
# command of the group is reported as unknown.
DEFAULT_API_VERSION = "1"
API_VERSIONS = ("1",)


def make_client(instance):
    """The SDK connection: commands use its compute, image, block_storage
    and instance_ha proxies."""
    return instance.sdk_connection


def build_option_parser(parser):
    parser.add_argument(
        "--os-instanceha-api-version",
        metavar="<instanceha-api-version>",
        default=utils.env("OS_INSTANCEHA_API_VERSION"),
        help="instanceha command version, default=%s "
             "(Env: OS_INSTANCEHA_API_VERSION)" % DEFAULT_API_VERSION)
    return parser


def check_api_version(check_version):
    return True
