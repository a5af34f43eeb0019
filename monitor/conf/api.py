"""[api]: how to reach Masakari (keystoneauth session, auth and adapter).

Every request has a connect timeout and a read timeout by default: a
Masakari (or Nova, or Keystone) that accepts the connection and never
answers must not hold a notification forever.  keystoneauth's ``timeout``
defaults to none; here it is the read timeout, with a default.
"""
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = "api"
DEFAULT_AUTH_TYPE = "password"
READ_TIMEOUT = 30.0
OPTS = [
    cfg.StrOpt("region", default="RegionOne",
               help="Region of the Masakari endpoint."),
    cfg.StrOpt("api_interface", default="public",
               help="Endpoint interface of Masakari and Nova: public, "
                    "internal or admin."),
    cfg.FloatOpt("connect_timeout", default=5.0, min=0.1,
                 help="Seconds to wait for a TCP connection to Keystone, "
                      "Masakari or Nova before the attempt counts as "
                      "failed (it is retried)."),
]
# Adapter options that would duplicate region / api_interface above, and
# the version range, which openstacksdk does not take from configuration
# (it negotiates within the major version given by ``version``).
_ADAPTER_LEFT_OUT = {"region_name", "interface", "valid_interfaces",
                     "service_type", "service_name", "min_version",
                     "max_version"}
# keystoneauth's adapter options that openstacksdk takes for every service
# the monitor calls (Masakari, Nova, Keystone)
SHARED_ADAPTER_OPTIONS = ("connect_retries", "connect_retry_delay",
                          "status_code_retries", "status_code_retry_delay",
                          "retriable_status_codes")
_MASAKARI_ONLY_HELP = {
    "endpoint_override": "Masakari's endpoint URL, instead of the one in "
                         "the catalog (Nova is always found in the "
                         "catalog).",
    "version": "Masakari's major API version (e.g. 1), instead of the "
               "newest the endpoint offers.",
}


def adapter_opts():
    opts = [opt for opt in ks_loading.get_adapter_conf_options()
            if opt.dest not in _ADAPTER_LEFT_OUT]
    for opt in opts:
        opt.help = _MASAKARI_ONLY_HELP.get(opt.dest, opt.help)
    return opts


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


def implied_auth_type(sections):
    """A masakarimonitors.conf names no auth_type: masakari-monitors
    defaults it to password.  So does this monitor, for files (``sections``
    of each, as read) that give an auth_url and no auth_type; None
    otherwise."""
    api = [s.get(GROUP, {}) for s in sections]
    if any("auth_url" in s for s in api) and \
            not any("auth_type" in s for s in api):
        return DEFAULT_AUTH_TYPE
    return None


def default_auth_type(conf, sections):
    implied = implied_auth_type(sections)
    if implied:
        conf.set_default("auth_type", implied, group=GROUP)


def auth_plugin_opts(auth_type):
    """Options of one auth plugin (password by default in the sample)."""
    return ks_loading.get_auth_plugin_conf_options(auth_type)


ADMIN_ROLE = (" The user needs the admin role: Masakari's default policy "
              "lets only admins create notifications, and the monitor lists "
              "this host's servers of all projects in Nova.")


def auth_common_opts():
    """auth_type and auth_section; auth_type's help says whose
    credentials these must be (it heads the auth options in the
    sample)."""
    opts = ks_loading.get_auth_common_conf_options()
    for opt in opts:
        if opt.dest == "auth_type":
            opt.help = ("Authentication type to load (password when the "
                        "file gives auth_url and no auth_type, as in "
                        "masakari-monitors)." + ADMIN_ROLE)
    return opts


def registered_opts():
    """Every [api] option but the auth plugin's, which follow auth_type."""
    return (OPTS + session_opts() + auth_common_opts() + adapter_opts())


def list_opts():
    """For the sample: the password plugin's options included."""
    opts = registered_opts() + auth_plugin_opts("password")
    unique = {opt.dest: opt for opt in opts}
    return [(GROUP, list(unique.values()))]
