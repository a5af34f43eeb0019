"""[api]: how to reach Masakari (keystoneauth session, auth and adapter).

Every request has a connect timeout and a read timeout by default: a
Masakari (or Nova, or Keystone) that accepts the connection and never
answers must not hold a notification forever.  keystoneauth's ``timeout``
defaults to none; here it is the read timeout, with a default.
"""
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = "api"
READ_TIMEOUT = 30.0
OPTS = [
    cfg.StrOpt("region", default="RegionOne",
               help="Region of the Masakari endpoint."),
    cfg.StrOpt("api_interface", default="public",
               help="Endpoint interface: public, internal or admin."),
    cfg.FloatOpt("connect_timeout", default=5.0, min=0.1,
                 help="Seconds to wait for a TCP connection to Keystone, "
                      "Masakari or Nova before the attempt counts as "
                      "failed (it is retried)."),
]
# Adapter options that would duplicate region / api_interface above.
_ADAPTER_DUPLICATES = {"region_name", "interface", "valid_interfaces",
                       "service_type", "service_name"}


def adapter_opts():
    return [opt for opt in ks_loading.get_adapter_conf_options()
            if opt.dest not in _ADAPTER_DUPLICATES]


def session_opts():
    """keystoneauth's session options, with a read timeout by default."""
    opts = ks_loading.get_session_conf_options()
    for opt in opts:
        if opt.dest == "timeout":
            opt.default = READ_TIMEOUT
            opt.help = ("Seconds to wait for an answer from Keystone, "
                        "Masakari or Nova once connected (per read); then "
                        "the attempt counts as failed and is retried.")
    return opts


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)
    conf.register_opts(session_opts(), group=GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)
    conf.register_opts(adapter_opts(), group=GROUP)


def auth_plugin_opts(auth_type):
    """Options of one auth plugin (password by default in the sample)."""
    return ks_loading.get_auth_plugin_conf_options(auth_type)


def registered_opts():
    """Every [api] option but the auth plugin's, which follow auth_type."""
    return (OPTS + session_opts()
            + ks_loading.get_auth_common_conf_options() + adapter_opts())


def list_opts():
    """For the sample: the password plugin's options included."""
    opts = registered_opts() + auth_plugin_opts("password")
    unique = {opt.dest: opt for opt in opts}
    return [(GROUP, list(unique.values()))]
