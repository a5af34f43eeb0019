"""[callback]: read for compatibility with masakarimonitors.conf."""
from oslo_config import cfg

GROUP = "callback"
OPTS = [
    cfg.IntOpt("retry_max", default=12, min=0,
               help="masakari-monitors gives up after this many attempts. "
                    "This monitor never drops a notification: attempts go on "
                    "with exponential backoff until Masakari accepts or "
                    "finally refuses it; retry_max x retry_interval only "
                    "sets when a pending notification is reported as "
                    "overdue."),
    cfg.IntOpt("retry_interval", default=10, min=1,
               help="First delay in seconds between delivery attempts; "
                    "later ones grow exponentially with jitter."),
    cfg.IntOpt("retry_max_interval", default=300, min=1,
               help="Upper bound in seconds of the delay between two "
                    "delivery attempts of one notification."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
