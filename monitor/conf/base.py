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
]


def register_opts(conf):
    conf.register_opts(OPTS)


def list_opts():
    return [("DEFAULT", OPTS)]
