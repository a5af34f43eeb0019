"""[libvirt]: the hypervisor connection."""
from oslo_config import cfg

GROUP = "libvirt"
OPTS = [
    cfg.StrOpt("connection_uri", default="qemu:///system",
               help="libvirt URI to monitor. The connection is read-write "
                    "because guest-agent commands need it."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
