"""Run a command as a child subreaper: reap every orphan at once.

libvirtd learns that a QEMU process died when it reaps it.  Where PID 1 is
not an init that reaps promptly (containers, CI sandboxes), orphans wait
1-2 s for it and every stop event arrives that much late.  Running libvirtd
under this process makes the reaping immediate.  SIGTERM and SIGINT are
passed on to the command; this process exits with it.

Usage: python subreaper.py COMMAND [ARG...]
"""
import ctypes
import os
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed: errno %d"
                 % ctypes.get_errno())
    child = subprocess.Popen(sys.argv[1:])
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _f: child.send_signal(s))
    code = 0
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            sys.exit(code)
        except InterruptedError:
            continue
        if pid == child.pid:
            child.returncode = code = max(os.waitstatus_to_exitcode(status),
                                          0)


if __name__ == "__main__":
    main()
