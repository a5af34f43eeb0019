"""The host itself, so a stalled host or a stopped QEMU is told from a
hung guest: one ``HostSample`` per sampling period.

- ``pressure``: Linux pressure stall information,
  ``/proc/pressure/{cpu,memory,io}`` (``some|full avg10= avg60= avg300=
  total=``), the 10 s averages; empty without PSI (kernels before 4.20,
  ``psi=0``, containers that hide it).  PSI shows CPU, memory and I/O
  starvation, not a SIGSTOP.  With a remote libvirt it is the monitor's
  own host that is read.
- ``loop_lag``: a task on the monitor's own loop sleeps ``LAG_TICK``
  seconds over and over; the longest it woke late since the last sample.
- ``stopped`` / ``blocked``: QEMU processes by instance UUID (``-uuid`` on
  their command line), local libvirt only (a remote URI has its QEMUs on
  another host: ``qemu_read`` False).  Stopped: the process or one of
  its threads (when they are read, see below) is in state T or t
  (SIGSTOP, ptrace), or its cgroup is
  frozen (cgroup v2 ``cgroup.events`` ``frozen 1``, or the v1 freezer's
  ``freezer.state`` FROZEN/FREEZING; a v2-frozen task shows as S, so the
  state alone misses it).  Blocked: the same thread in uninterruptible
  sleep (D) in this sample and the previous one; one D is ordinary I/O.

Finding QEMUs stays cheap: ``/proc`` is listed each sample, and only a PID
not seen before has its ``stat`` read (``comm``, and start time, field 22);
its ``cmdline`` is read only when ``comm`` starts with ``qemu``.  A PID
keeps its verdict until it leaves ``/proc`` (a QEMU's start time is
checked on every sample, since its ``stat`` is read anyway); a PID reused
between two samples would need pid_max PIDs spent in between.

Reading threads is what costs: about 15-25 us per thread here (2 cores
under load, PSI cpu "some" 30-65 %); 58 QEMU-like processes with 470
threads took 10-28 ms per sample with every thread read, 5-9 ms when a
busy QEMU's threads are read every ``SCAN_EVERY`` samples only
(tests/unit/monitor/test_host_probe.py prints the figures).  A real QEMU
has a thread per vCPU and up to 64 I/O workers, so every thread of every
QEMU at every sample grows with the guests' size.  Hence ``_scan``: a
QEMU's threads are read at each sample only when something suggests
trouble (main thread not in R/S, almost no CPU used since the last
sample: a guest that runs, even idle, ticks; a thread in D at the last
look); otherwise every ``SCAN_EVERY`` samples, which finds a worker
thread stuck in D while the vCPUs run within ``SCAN_EVERY`` + 1 samples.
A stopped process (SIGSTOP, ptrace: every thread, the main one too) and
a frozen cgroup are seen at every sample from the main thread and the
cgroup alone.

Even so, the QEMU processes are read only while the engine asks
(``watch_qemu``): while a guest fails or is excused by its QEMU.  A
healthy host's sample is the pressure files alone (about 0.3 ms), and a
verdict takes a whole detection window, in which the probe looks at
once and then at every sample.

The reads run in a worker of the given pool, not on the loop: reading a
process's ``cmdline`` takes its mmap lock, which a QEMU stuck in D state
can hold for as long as it is stuck.  One sampling at a time; one that
has not finished within the period posts a sample with ``qemu_read``
False (and the loop lag) and no new one starts until it ends.
"""
import asyncio
import logging
import os
from pathlib import Path

from monitor import libvirt_watch
from monitor import observations as obs
from monitor import threads

LOG = logging.getLogger(__name__)

PROC = Path("/proc")
PSI_RESOURCES = ("cpu", "memory", "io")
LAG_TICK = 0.5  # a 2 s lag is what counts: no need to wake more often
STOPPED = frozenset("Tt")
BLOCKED = "D"
FROZEN_V1 = (b"FROZEN", b"FREEZING")
QUIET_TICKS = 2  # clock ticks (USER_HZ, 10 ms) of CPU between two samples
SCAN_EVERY = 4  # samples between two thread scans of a busy QEMU


def parse_pressure(resource, text):
    """``(resource, kind, avg10)`` for each line of a PSI file."""
    out = []
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        fields = dict(field.split("=", 1) for field in rest.split()
                      if "=" in field)
        if kind and "avg10" in fields:
            out.append((resource, kind, float(fields["avg10"])))
    return out


def read_pressure(proc=PROC):
    out = []
    for resource in PSI_RESOURCES:
        try:
            text = (Path(proc) / "pressure" / resource).read_text()
        except OSError:  # no PSI here
            continue
        out.extend(parse_pressure(resource, text))
    return tuple(out)


def parse_stat(data):
    """(comm, state, start time, CPU ticks) from a ``/proc/PID/stat``
    line: the comm may hold spaces and parentheses, so fields are counted
    from its closing one; CPU ticks are utime + stime (fields 14, 15) in
    clock ticks, all threads of a process summed."""
    head, _, tail = data.rpartition(b")")
    fields = tail.split()
    return (head.partition(b"(")[2].decode(errors="replace"),
            fields[0].decode(), int(fields[19]),
            int(fields[11]) + int(fields[12]))


def uuid_of(cmdline):
    """The ``-uuid`` argument of a NUL-separated command line, or None."""
    args = cmdline.split(b"\0")
    for index, arg in enumerate(args[:-1]):
        if arg == b"-uuid":
            return args[index + 1].decode(errors="replace") or None
    return None


def cgroup_mounts(mountinfo):
    """(cgroup v2 mount point, v1 freezer mount point), None if absent."""
    v2 = freezer = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        fstype, options = fields[dash + 1], fields[-1].split(",")
        if fstype == "cgroup2" and v2 is None:
            v2 = fields[4]
        elif fstype == "cgroup" and "freezer" in options and \
                freezer is None:
            freezer = fields[4]
    return v2, freezer


def _read(path):
    """A small file's bytes (None when it is gone): os calls, no buffered
    file object, since this runs for every thread of every QEMU."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


class _Process:
    __slots__ = ("start", "uuid", "state", "cpu", "quiet", "cgroups",
                 "blocked")

    def __init__(self, start, uuid, state, cpu):
        self.start, self.uuid, self.state, self.cpu = start, uuid, state, cpu
        self.quiet = True  # used (almost) no CPU since the last sample
        self.cgroups = None  # (v2 path, v1 freezer path), read once
        self.blocked = None  # TIDs in D at the previous sample; None: new


class QemuTable:
    """QEMU processes of this host by PID (blocking reads: a worker)."""

    def __init__(self, proc=PROC, cgroup_v2=None, freezer=None):
        self.proc = str(proc)
        if cgroup_v2 is None and freezer is None:
            cgroup_v2, freezer = cgroup_mounts(
                (_read(os.path.join(self.proc, "self/mountinfo")) or
                 b"").decode(errors="replace"))
        self.cgroup_v2, self.freezer = cgroup_v2, freezer
        self.processes = {}  # pid -> _Process (uuid None: not a QEMU)
        self.rounds = self.scans = self.threads_read = 0

    def sample(self):
        """(stopped, blocked): frozensets of instance UUIDs."""
        try:
            pids = {int(name) for name in os.listdir(self.proc)
                    if name.isdigit()}
        except OSError:
            pids = set()
        for pid in [p for p in self.processes if p not in pids]:
            del self.processes[pid]
        stopped, blocked = set(), set()
        self.rounds += 1
        for pid in pids:
            known = self.processes.get(pid)
            if known is not None and known.uuid is None:
                continue  # not a QEMU
            process = self._process(pid, known)
            if process is None or process.uuid is None:
                continue
            in_d, any_stopped = frozenset(), False
            scan = self._scan(pid, process)
            if scan:
                self.scans += 1
                in_d, any_stopped = self._threads(pid)
            if process.state in STOPPED or any_stopped or \
                    self._frozen(pid, process):
                stopped.add(process.uuid)
            elif process.blocked and in_d & process.blocked:
                blocked.add(process.uuid)
            process.blocked = in_d if scan else frozenset()
        return frozenset(stopped), frozenset(blocked)

    def _scan(self, pid, process):
        """Whether to read every thread of this QEMU now: when its main
        thread is not running or sleeping (D, T, t), when it used less
        than QUIET_TICKS of CPU since the last sample (all its threads
        may be stuck: a guest that runs, even idle, ticks), when a thread
        was in D at the last sample (the second look that makes it
        blocked), on its first sample, and otherwise every SCAN_EVERY
        samples (a worker thread stuck in D while the vCPUs run; one
        thread stopped alone by a debugger)."""
        return (process.state not in "RS" or process.quiet or
                process.blocked is None or bool(process.blocked) or
                (pid + self.rounds) % SCAN_EVERY == 0)

    def _process(self, pid, known):
        data = _read("%s/%d/stat" % (self.proc, pid))
        if data is None:
            self.processes.pop(pid, None)
            return None
        try:
            comm, state, start, cpu = parse_stat(data)
        except (IndexError, ValueError):  # exiting as it was read
            return None
        if known is not None and known.start == start:
            known.quiet = cpu - known.cpu < QUIET_TICKS
            known.state, known.cpu = state, cpu
            return known
        uuid = None
        if comm.startswith("qemu"):
            uuid = uuid_of(_read("%s/%d/cmdline" % (self.proc, pid)) or b"")
        process = self.processes[pid] = _Process(start, uuid, state, cpu)
        return process

    def _threads(self, pid):
        """(TIDs in D, whether one is stopped): every thread's stat."""
        task = "%s/%d/task" % (self.proc, pid)
        try:
            tids = os.listdir(task)
        except OSError:
            return frozenset(), False
        in_d, stopped = set(), False
        self.threads_read += len(tids)
        for tid in tids:
            data = _read("%s/%s/stat" % (task, tid))
            if data is None or b")" not in data:
                continue
            state = data[data.rindex(b")") + 2:][:1].decode()
            if state == BLOCKED:
                in_d.add(int(tid))
            elif state in STOPPED:
                stopped = True
        return frozenset(in_d), stopped

    def _frozen(self, pid, process):
        """The cgroup is frozen.  Its paths are read once per process
        (libvirt moves QEMU into its cgroup before it runs QEMU); the root
        cgroup has no cgroup.events and is never frozen."""
        if process.cgroups is None:
            process.cgroups = self._cgroups(pid)
        v2, v1 = process.cgroups
        if v2 is not None:
            events = _read(os.path.join(self.cgroup_v2, v2.lstrip("/"),
                                        "cgroup.events"))
            if events is not None and b"frozen 1" in events:
                return True
        if v1 is not None:
            state = _read(os.path.join(self.freezer, v1.lstrip("/"),
                                       "freezer.state"))
            if state is not None and state.strip() in FROZEN_V1:
                return True
        return False

    def _cgroups(self, pid):
        data = (_read("%s/%d/cgroup" % (self.proc, pid)) or b"").decode(
            errors="replace")
        v2 = v1 = None
        for line in data.splitlines():
            if line.count(":") < 2:
                continue
            _, controllers, path = line.split(":", 2)
            if controllers == "" and self.cgroup_v2:
                v2 = path
            elif "freezer" in controllers.split(",") and self.freezer:
                v1 = path
        return v2, v1


class HostProbe:
    """Posts one ``HostSample`` each ``interval`` seconds (a number, or a
    callable read before every sample, as the stats interval changes on
    reload) with ``async run(interval)``."""

    def __init__(self, uri, post, pool, proc=PROC, table=None,
                 lag_tick=LAG_TICK):
        self._post = post
        self._pool = pool
        self.proc = Path(proc)
        self.local = libvirt_watch.is_local(uri)
        self.table = table or (QemuTable(proc) if self.local else None)
        self.lag_tick = lag_tick
        self.lag = 0.0
        self._reading = None  # the sampling in its worker
        self._told_slow = False
        self.qemu = False  # read the QEMU processes (watch_qemu)
        self._wake = asyncio.Event()

    def watch_qemu(self, on):
        """Read the QEMU processes in every sample from now (at once), or
        no longer."""
        self.qemu = on
        if on:
            self._wake.set()

    async def run(self, interval):
        loop = asyncio.get_running_loop()
        watcher = asyncio.ensure_future(self._watch_lag())
        try:
            while True:
                period = interval() if callable(interval) else interval
                began = loop.time()
                self._wake.clear()
                await self.sample(period)
                try:
                    await threads.within(self._wake.wait(), max(
                        0.0, period - (loop.time() - began)))
                except asyncio.TimeoutError:
                    pass
        finally:
            watcher.cancel()

    async def _watch_lag(self):
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.lag_tick)
            self.lag = max(self.lag, loop.time() - before - self.lag_tick)

    def _take_lag(self):
        lag, self.lag = self.lag, 0.0
        return lag

    def read(self):
        """(pressure, stopped, blocked) now (blocking: a worker)."""
        pressure = read_pressure(self.proc)
        if self.table is None or not self.qemu:
            return pressure, frozenset(), frozenset()
        return (pressure,) + self.table.sample()

    async def sample(self, deadline):
        """Read and post one ``HostSample``; within ``deadline`` s."""
        result = None
        if self._reading is None or self._reading.done():
            self._reading = self._pool.run(self.read)
            try:
                result = await threads.within(asyncio.shield(self._reading),
                                              deadline)
            except asyncio.TimeoutError:
                pass
            except Exception:  # loud, and the samples go on
                LOG.exception("Host sample not read")
                self._post(obs.HostSample(loop_lag=self._take_lag(),
                                          qemu_read=False))
                return
        lag = self._take_lag()
        if result is None:
            if not self._told_slow:
                self._told_slow = True
                LOG.warning("Reading /proc took longer than %.1f s: QEMU "
                            "processes are not seen until it ends", deadline)
            self._post(obs.HostSample(loop_lag=lag, qemu_read=False))
            return
        if self._told_slow:
            self._told_slow = False
            LOG.warning("Reading /proc is timely again")
        pressure, stopped, blocked = result
        self._post(obs.HostSample(pressure, lag, stopped, blocked,
                                  self.table is not None and self.qemu))
