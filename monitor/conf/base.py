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
               help="Directory for the monitor's durable state: one SQLite "
                    "database (the outbox of notifications, the boots of "
                    "the running domains, the restart budgets), forensics "
                    "and the control socket. Made 0700, its files 0600. "
                    "Locked while a monitor runs: a second monitor on the "
                    "same directory refuses to start."),
    cfg.IntOpt("history_retention_days", default=30, min=1,
               help="Days a notification with a final answer (accepted or "
                    "refused) stays in the outbox for status and "
                    "post-mortems. Pending notifications are never "
                    "removed."),
    cfg.BoolOpt("forward_ignored_events", mutable=True, default=False,
                help="Also send lifecycle events Masakari's engine ignores "
                     "(Nova's own stop or destroy, in-guest shutdown, "
                     "pause, migration), as masakari-monitors does. They "
                     "only fill Masakari's database; off by default, and "
                     "always visible in the monitor's status."),
    cfg.IntOpt("recovery_budget", mutable=True, default=3, min=1,
               help="Recoveries asked for one VM within "
                    "recovery_budget_window; beyond it the VM is "
                    "quarantined (no more recovery notifications) until "
                    "the window "
                    "passes or an operator runs 'instanceha-monitor "
                    "clear-quarantine'. Kept across restarts."),
    cfg.IntOpt("recovery_budget_window", mutable=True, default=3600, min=60,
               help="Seconds over which recovery_budget is counted."),
]


def register_opts(conf):
    conf.register_opts(OPTS)


def list_opts():
    return [("DEFAULT", OPTS)]
