"""[recovery]: who recovers a failed VM."""
from oslo_config import cfg

from monitor import pause

GROUP = "recovery"
MASAKARI, NOVA, LIBVIRT = "masakari", "nova", "libvirt"
ENFORCE, SHADOW = "enforce", "shadow"
OPTS = [
    cfg.StrOpt("mode", default=ENFORCE, mutable=True, choices=[
        (ENFORCE, "Decisions go to the recovery backend (the default)."),
        (SHADOW, "Every decision is taken as in enforce mode (detection, "
                 "excuses, restart budget, storm guard, forensics, the "
                 "fencing decision) and recorded as 'would recover' in "
                 "the state store, the status, the log and the metrics; "
                 "nothing is sent to the backend and nothing is fenced. "
                 "'instanceha-monitor history' lists these decisions. "
                 "Switching back to enforce sends none of them.")],
        help="Whether decisions are carried out. Run a new host in shadow "
             "mode first, read what it would have done, then switch to "
             "enforce (SIGHUP applies it)."),
    cfg.IntOpt("max_pause", default=pause.DEFAULT_MAX, min=60,
               mutable=True,
               help="Seconds: the longest pause honoured, of the host "
                    "('instanceha-monitor pause --for') or of a server "
                    "(its HA_Paused_Until metadata, which 'openstack "
                    "instanceha pause --for' writes). A longer request is "
                    "refused; a server's HA_Paused_Until further ahead "
                    "than this is ignored, with a warning in the log and "
                    "the status."),
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
    cfg.BoolOpt("fence_hung", mutable=True, default=True,
                help="masakari backend: once Masakari has accepted the "
                     "recovery of a hung guest, end the guest here "
                     "(virDomainDestroy) after its forensics were kept, "
                     "if a fresh reading of Nova shows HA_Enabled and no "
                     "task under way other than Masakari's own stop "
                     "(powering-off), and the guest is still hung and not "
                     "excused (host stalled, QEMU stopped or busy, "
                     "migrating, paused). "
                     "Masakari recovers by Nova's stop, which first asks "
                     "the guest to shut down cleanly and waits "
                     "shutdown_timeout in nova.conf (60 s, longer in "
                     "practice) before it destroys it; a guest whose "
                     "kernel is confirmed silent cannot shut down "
                     "cleanly, so that wait is pure downtime. Fenced, the "
                     "stop finds it off and the start follows at once. "
                     "When Nova cannot be read the guest is left to "
                     "Nova's stop. The nova backend hard-reboots a hung "
                     "guest and the libvirt backend destroys and starts "
                     "it itself: neither waits, and this option does "
                     "nothing for them."),
    cfg.IntOpt("nova_action_timeout", default=120, min=5,
               help="nova backend: seconds to wait for Nova to finish the "
                    "stop before asking for the start. When it runs out the "
                    "recovery is retried, and resumes where Nova is."),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
