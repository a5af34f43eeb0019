"""[api]: how to reach Masakari (keystoneauth session, auth and adapter)."""
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = "api"
OPTS = [
    cfg.StrOpt("region", default="RegionOne",
               help="Region of the Masakari endpoint."),
    cfg.StrOpt("api_interface", default="public",
               help="Endpoint interface: public, internal or admin."),
]
# Adapter options that would duplicate region / api_interface above.
_ADAPTER_DUPLICATES = {"region_name", "interface", "valid_interfaces",
                       "service_type", "service_name"}


def adapter_opts():
    return [opt for opt in ks_loading.get_adapter_conf_options()
            if opt.dest not in _ADAPTER_DUPLICATES]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)
    ks_loading.register_session_conf_options(conf, GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)
    conf.register_opts(adapter_opts(), group=GROUP)


def auth_plugin_opts(auth_type):
    """Options of one auth plugin (password by default in the sample)."""
    return ks_loading.get_auth_plugin_conf_options(auth_type)


def registered_opts():
    """Every [api] option but the auth plugin's, which follow auth_type."""
    return (OPTS + ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options() + adapter_opts())


def list_opts():
    """For the sample: the password plugin's options included."""
    opts = registered_opts() + auth_plugin_opts("password")
    unique = {opt.dest: opt for opt in opts}
    return [(GROUP, list(unique.values()))]
