"""One entry point for the benches (run by hand, as root, on Debian):

    python -m bench [all | crash | hang | frozen | noagent | fleet | cli |
                     recovery | nova | nova-hang | nova-fence |
                     commit]

``all`` runs the side-by-side scenarios with their default sizes and writes
one summary, bench-results/summary-<time>.md, besides each scenario's own
markdown and JSON.
"""
import sys

from bench import cli_status
from bench import compare
from bench import event_commit
from bench import fleet
from bench import lab_recovery
from bench import nova_recovery
from bench import results

SCENARIOS = {
    "crash": ("kill -9 → notification, vs masakari-instancemonitor",
              lambda: compare.main("crash", 10)),
    "hang": ("kernel hang → notification, defaults 10/2/3, vs "
             "masakari-introspectiveinstancemonitor",
             lambda: compare.main("hang", 3)),
    "frozen": ("guest agent frozen (SIGSTOP), kernel fine: a notification "
               "is a false recovery", lambda: compare.main("frozen", 3)),
    "noagent": ("kernel hang in a guest without an agent channel",
                lambda: compare.main("noagent", 3)),
    "fleet": ("40 guests: idle CPU and peak RSS over 5 min, 10 % hung at "
              "once, heartbeat punctuality", lambda: fleet.main(40, 2, 300)),
    "cli": ("openstack instanceha status over 1,000 servers",
            lambda: cli_status.main(1000, 5)),
}
OURS_ONLY = {
    "recovery": lambda: lab_recovery.main("crash", 6),
    "nova": lambda: nova_recovery.main("crash", 5),
    "nova-hang": lambda: nova_recovery.main("hang", 3),
    "nova-fence": lambda: nova_recovery.main("fence", 3),
    "commit": lambda: event_commit.main(200),
}


def main(argv):
    wanted = argv[:1] or ["all"]
    if wanted == ["all"]:
        wanted = list(SCENARIOS)
    unknown = [w for w in wanted if w not in SCENARIOS and w not in
               OURS_ONLY]
    if unknown:
        sys.exit("unknown scenario %s; choose from all, %s" % (
            unknown[0], ", ".join(list(SCENARIOS) + list(OURS_ONLY))))
    sections = []
    for name in wanted:
        if name in OURS_ONLY:
            OURS_ONLY[name]()
            continue
        title, run = SCENARIOS[name]
        sections.append("## %s: %s\n\n%s" % (name, title, run()))
    if len(sections) > 1:
        print("summary: %s" % results.write(
            "summary", "\n\n".join(sections), {"scenarios": wanted}))


if __name__ == "__main__":
    main(sys.argv[1:])
