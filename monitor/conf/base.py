"""[DEFAULT]: who this host is and where the monitor keeps its state."""
import socket

from oslo_config import cfg

OPTS = [
    cfg.StrOpt("hostname", default=socket.gethostname(),
               sample_default="<host name>",
               help="Name of this compute host as registered in Masakari "
                    "(and as Nova's compute service knows it). Used in every "
                    "notification; Masakari answers 400 for unknown hosts."),
    cfg.StrOpt("state_path", default="/var/lib/instanceha",
               help="Directory for the monitor's durable state: the outbox "
                    "of undelivered notifications and the restart budgets."),
    cfg.BoolOpt("forward_ignored_events", default=False,
                help="Also send lifecycle events Masakari's engine ignores "
                     "(Nova's own stop or destroy, in-guest shutdown, "
                     "pause, migration), as masakari-monitors does. They "
                     "only fill Masakari's database; off by default, and "
                     "always visible in the monitor's status."),
]


def register_opts(conf):
    conf.register_opts(OPTS)


def list_opts():
    return [("DEFAULT", OPTS)]
