"""[forensics]: what is kept of a guest before it is recovered."""
from oslo_config import cfg

GROUP = "forensics"
OPTS = [
    cfg.BoolOpt("enabled", default=True,
                help="For every recovery, keep the tail of the guest's "
                     "file-backed serial console, a screenshot when it "
                     "has a graphics device, and what the monitor knew of "
                     "its agent and kernel, under <state_path>/forensics. "
                     "A restart overwrites the console log, so this is "
                     "the only chance to read a panic message or a hung "
                     "kernel's last words. A hung guest's recovery waits "
                     "for the capture (up to timeout); a dead QEMU "
                     "process's goes out at once, the capture alongside "
                     "(its console log stays on disk)."),
    cfg.IntOpt("console_tail_bytes", default=65536, min=1024,
               help="How much of the end of the console log is kept."),
    cfg.IntOpt("screenshot_max_bytes", default=4 * 1024 * 1024, min=0,
               help="A screenshot larger than this is not kept (0: never "
                    "take screenshots)."),
    cfg.IntOpt("max_incidents", default=50, min=1,
               help="Incidents kept; the oldest are removed first."),
    cfg.FloatOpt("timeout", default=10.0, min=1.0,
                 help="Longest delay the capture may add before a hung "
                      "guest's recovery is sent; the recovery goes out "
                      "when it runs out, captured or not."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
