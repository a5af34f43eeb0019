"""[status]: the local status endpoint (/healthz, /status, /metrics)."""
from oslo_config import cfg

GROUP = "status"
OPTS = [
    cfg.HostAddressOpt("listen", default="127.0.0.1",
                       help="Address of the status endpoint. It tells "
                            "which instances run here: keep it local or "
                            "behind a firewall."),
    cfg.PortOpt("port", default=9780,
                help="Port of the status endpoint (0: any free port, "
                     "written to <state_path>/status.url)."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
