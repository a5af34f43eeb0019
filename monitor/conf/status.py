"""[status]: the local status endpoint (/healthz, /metrics) and the
metrics listener Prometheus scrapes."""
from oslo_config import cfg

GROUP = "status"
OPTS = [
    cfg.HostAddressOpt("listen", default="127.0.0.1",
                       help="Address of the local status endpoint "
                            "(/healthz, /metrics). The status document, "
                            "which names the instances, is only on the "
                            "control socket (instanceha-monitor status, "
                            "as root)."),
    cfg.PortOpt("port", default=9780,
                help="Port of the local status endpoint (0: any free port, "
                     "written to <state_path>/status.url)."),
    cfg.HostAddressOpt("metrics_listen",
                       help="Address of a listener that serves /metrics "
                            "(and /healthz) alone, for Prometheus to scrape: "
                            "a host address such as the management "
                            "network's. The metrics name no instance. "
                            "Unset: no such listener."),
    cfg.PortOpt("metrics_port", default=9781,
                help="Port of the metrics listener (0: any free port, "
                     "written to <state_path>/metrics.url)."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
