"""[callback]: read for compatibility with masakarimonitors.conf."""
from oslo_config import cfg

GROUP = "callback"
OPTS = [
    cfg.IntOpt("retry_max", default=12, min=1,
               help="masakari-monitors gives up after this many attempts. "
                    "This monitor never drops a notification: attempts go on "
                    "until Masakari accepts or finally refuses it. A "
                    "notification pending longer than retry_max x "
                    "retry_interval seconds is reported as overdue: one "
                    "WARNING log line, 'overdue' in status and the "
                    "instanceha_outbox_overdue metric."),
    cfg.IntOpt("retry_interval", default=10, min=1,
               help="Base of the delay between delivery attempts of one "
                    "notification: before attempt n+1 it waits a random "
                    "time up to min(retry_max_interval, retry_interval x "
                    "2^(n-1)) seconds (full jitter)."),
    cfg.IntOpt("retry_max_interval", default=10, min=1,
               help="Upper bound in seconds of the delay between two "
                    "delivery attempts of one notification. It bounds how "
                    "long a notification waits after Masakari is back; "
                    "the first answer from Masakari makes every waiting "
                    "notification due at once."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
