"""[recovery]: who recovers a failed VM."""
from oslo_config import cfg

GROUP = "recovery"
MASAKARI, NOVA, LIBVIRT = "masakari", "nova", "libvirt"
OPTS = [
    cfg.StrOpt("backend", default=MASAKARI, choices=[
        (MASAKARI, "POST a VM notification to Masakari, whose engine "
                   "recovers the instance (the default)."),
        (NOVA, "No Masakari in the cloud: ask Nova directly (stop and "
               "start for a dead QEMU process, hard reboot for a hung "
               "guest), only for servers with HA_Enabled=True on this "
               "host and with no Nova task in progress. Uses [api]."),
        (LIBVIRT, "A KVM host without OpenStack: restart the domain "
                  "through libvirt (start it again after a death; "
                  "destroy and start it when hung, reset a transient "
                  "one).")],
        help="Where decisions go. Every backend has the same durable "
             "outbox, retries and restart budget."),
    cfg.IntOpt("nova_action_timeout", default=120, min=5,
               help="nova backend: seconds to wait for Nova to finish the "
                    "stop before asking for the start. When it runs out the "
                    "recovery is retried, and resumes where Nova is."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
