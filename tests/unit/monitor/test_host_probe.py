"""The host probe on this machine's real /proc (child processes that look
like QEMU: a ``qemu…`` comm and ``-uuid`` on the command line, stopped
with SIGSTOP, frozen in a cgroup of their own) and on /proc-like trees
for what a test cannot make a real process do (a thread stuck in D)."""
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid as uuid_mod
from pathlib import Path

import pytest

from monitor import host_probe
from monitor import observations as obs
from monitor import threads

# a process that looks like QEMU from /proc: comm set with
# prctl(PR_SET_NAME), "-uuid U" in its argv, some sleeping threads
FAKE_QEMU = r"""
import ctypes, sys, threading, time
ctypes.CDLL(None).prctl(15, sys.argv[3].encode(), 0, 0, 0)
threading.stack_size(65536)
for _ in range(int(sys.argv[4]) - 1):
    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
print("ready", flush=True)
time.sleep(600)
"""


class Children:
    def __init__(self):
        self.procs = []

    def start(self, comm="qemu-system-x86", threads=4, uuid=None):
        uuid = uuid or str(uuid_mod.uuid4())
        child = subprocess.Popen(
            [sys.executable, "-S", "-c", FAKE_QEMU, "-uuid", uuid, comm,
             str(threads)], stdout=subprocess.PIPE)
        self.procs.append(child)
        return child, uuid

    def ready(self):
        for child in self.procs:
            assert child.stdout.readline() == b"ready\n"

    def stop(self):
        for child in self.procs:
            child.kill()
            child.wait()
            child.stdout.close()


@pytest.fixture
def children():
    made = Children()
    yield made
    made.stop()


def wait_state(pid, states, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        state = Path("/proc/%d/stat" % pid).read_bytes()
        state = state[state.rindex(b")") + 2:][:1].decode()
        if state in states:
            return
        assert time.monotonic() < deadline, state
        time.sleep(0.01)


# -- pressure ----------------------------------------------------------------
PSI = ("some avg10=12.50 avg60=3.10 avg300=0.80 total=123456\n"
       "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")


def test_pressure_lines_give_the_ten_second_averages():
    assert host_probe.parse_pressure("io", PSI) == [
        ("io", "some", 12.5), ("io", "full", 0.0)]


def test_pressure_is_empty_without_psi(tmp_path):
    assert host_probe.read_pressure(tmp_path) == ()
    (tmp_path / "pressure").mkdir()
    (tmp_path / "pressure" / "cpu").write_text(PSI.splitlines()[0])
    assert host_probe.read_pressure(tmp_path) == (("cpu", "some", 12.5),)


def test_pressure_of_this_machine():
    if not Path("/proc/pressure/cpu").exists():
        pytest.skip("this kernel has no PSI")
    resources = {(r, k) for r, k, _ in host_probe.read_pressure()}
    assert {("cpu", "some"), ("memory", "some"), ("memory", "full"),
            ("io", "some"), ("io", "full")} <= resources


# -- QEMU processes on the real /proc ----------------------------------------
def test_a_stopped_qemu_is_seen_stopped(children):
    """SIGSTOP, then SIGCONT, of a process that looks like QEMU; a
    process with -uuid on its command line and another comm is not
    taken for one."""
    qemu, uuid = children.start()
    other, other_uuid = children.start(comm="python-helper")
    children.ready()
    table = host_probe.QemuTable()
    assert table.sample() == (frozenset(), frozenset())
    assert table.processes[qemu.pid].uuid == uuid
    assert table.processes[other.pid].uuid is None

    qemu.send_signal(signal.SIGSTOP)
    other.send_signal(signal.SIGSTOP)
    try:
        wait_state(qemu.pid, "T")
        stopped, blocked = table.sample()
    finally:
        qemu.send_signal(signal.SIGCONT)
        other.send_signal(signal.SIGCONT)
    assert stopped == {uuid} and not blocked
    wait_state(qemu.pid, "S")
    assert table.sample() == (frozenset(), frozenset())


def test_gone_processes_leave_the_table(children):
    qemu, _ = children.start()
    children.ready()
    table = host_probe.QemuTable()
    table.sample()
    assert qemu.pid in table.processes
    qemu.kill()
    qemu.wait()
    table.sample()
    assert qemu.pid not in table.processes


@pytest.fixture
def cgroup_v2():
    """A cgroup v2 of the test's own, or skip."""
    v2, _ = host_probe.cgroup_mounts(
        Path("/proc/self/mountinfo").read_text())
    if v2 is None:
        pytest.skip("no cgroup v2 mounted")
    path = Path(v2) / ("instanceha-probe-test-%d" % os.getpid())
    try:
        path.mkdir()
    except OSError as exc:
        pytest.skip("cannot make a cgroup: %s" % exc)
    if not (path / "cgroup.freeze").exists():
        path.rmdir()
        pytest.skip("this cgroup v2 has no freezer")
    yield path
    for _ in range(100):  # the children are killed by then
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.05)


def test_a_qemu_in_a_frozen_cgroup_is_seen_stopped(children, cgroup_v2):
    """A cgroup v2 freeze leaves the threads in S: only cgroup.events
    tells."""
    qemu, uuid = children.start()
    children.ready()
    (cgroup_v2 / "cgroup.procs").write_text(str(qemu.pid))
    table = host_probe.QemuTable()
    assert table.sample() == (frozenset(), frozenset())
    (cgroup_v2 / "cgroup.freeze").write_text("1")
    try:
        deadline = time.monotonic() + 5
        while "frozen 1" not in (cgroup_v2 / "cgroup.events").read_text():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        stopped, _ = table.sample()
        state = Path("/proc/%d/stat" % qemu.pid).read_text()
    finally:
        (cgroup_v2 / "cgroup.freeze").write_text("0")
    assert stopped == {uuid}
    assert state[state.rindex(")") + 2] == "S"
    assert table.sample() == (frozenset(), frozenset())
    children.stop()
    children.procs = []


# -- /proc-like trees --------------------------------------------------------
def stat_line(pid, comm, state, start=1000, cpu=0):
    rest = [state] + ["0"] * 10 + [str(cpu), "0"] + ["0"] * 6 + [
        str(start)] + ["0"] * 30
    return "%d (%s) %s\n" % (pid, comm, " ".join(rest))


class FakeProc:
    """/proc as far as the probe reads it."""

    def __init__(self, root):
        self.root = root
        root.mkdir(exist_ok=True)

    def process(self, pid, comm="qemu-system-x86", uuid=None, threads=3,
                start=1000, cpu=0, state="S", cgroup="0::/machine/vm\n"):
        base = self.root / str(pid)
        (base / "task").mkdir(parents=True, exist_ok=True)
        (base / "stat").write_text(stat_line(pid, comm, state, start, cpu))
        argv = ["/usr/bin/" + comm, "-name", "guest=instance-1"]
        if uuid:
            argv += ["-uuid", uuid]
        (base / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")
        (base / "cgroup").write_text(cgroup)
        for tid in range(pid, pid + threads):
            self.thread(pid, tid, state)

    def thread(self, pid, tid, state):
        path = self.root / str(pid) / "task" / str(tid)
        path.mkdir(parents=True, exist_ok=True)
        (path / "stat").write_text(stat_line(tid, "worker", state))

    def cpu(self, pid, cpu):
        text = (self.root / str(pid) / "stat").read_text()
        fields = text.split()
        fields[13] = str(cpu)
        (self.root / str(pid) / "stat").write_text(" ".join(fields))


def test_a_thread_in_d_twice_in_a_row_is_blocked(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    proc.process(100, uuid="u-1", threads=4)
    table = host_probe.QemuTable(proc.root, cgroup_v2=str(tmp_path / "cg"))
    assert table.sample() == (frozenset(), frozenset())

    proc.thread(100, 102, "D")  # one D: ordinary I/O
    assert table.sample() == (frozenset(), frozenset())
    proc.thread(100, 102, "S")
    proc.thread(100, 103, "D")  # another thread's I/O: not the same wait
    assert table.sample() == (frozenset(), frozenset())
    assert table.sample() == (frozenset(), frozenset({"u-1"}))  # 103 again
    proc.thread(100, 103, "S")
    assert table.sample() == (frozenset(), frozenset())


def test_a_stopped_thread_a_stopped_process_and_a_frozen_cgroup(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    cg = tmp_path / "cg"
    (cg / "machine" / "vm").mkdir(parents=True)
    (cg / "machine" / "vm" / "cgroup.events").write_text(
        "populated 1\nfrozen 0\n")
    freezer = tmp_path / "freezer"
    (freezer / "frozen-vm").mkdir(parents=True)
    (freezer / "frozen-vm" / "freezer.state").write_text("FROZEN\n")
    proc.process(100, uuid="traced", threads=3)
    proc.thread(100, 101, "t")  # one thread stopped by a debugger
    proc.process(200, uuid="sigstop", state="T")
    proc.process(300, uuid="frozen-v2")
    proc.process(400, uuid="frozen-v1",
                 cgroup="3:freezer:/frozen-vm\n0::/machine/vm\n")
    table = host_probe.QemuTable(proc.root, cgroup_v2=str(cg),
                                 freezer=str(freezer))
    assert table.sample()[0] == {"traced", "sigstop", "frozen-v1"}
    (cg / "machine" / "vm" / "cgroup.events").write_text(
        "populated 1\nfrozen 1\n")
    assert table.sample()[0] == {"traced", "sigstop", "frozen-v1",
                                 "frozen-v2"}


def test_command_lines_are_read_once_and_only_for_qemu(tmp_path,
                                                       monkeypatch):
    proc = FakeProc(tmp_path / "proc")
    proc.process(100, uuid="u-1")
    proc.process(200, comm="bash", uuid="not-a-vm")
    reads = []
    real_read = host_probe._read
    monkeypatch.setattr(host_probe, "_read",
                        lambda path: reads.append(path) or real_read(path))
    table = host_probe.QemuTable(proc.root, cgroup_v2=str(tmp_path))
    for _ in range(3):
        table.sample()
    cmdlines = [p for p in reads if p.endswith("cmdline")]
    assert cmdlines == [str(proc.root / "100" / "cmdline")]
    assert [p for p in reads if p.endswith("200/stat")] == [
        str(proc.root / "200" / "stat")]  # once: not a QEMU

    # the PID is reused by a new QEMU (another start time): read again
    proc.process(100, uuid="u-2", start=2000)
    table.sample()
    assert table.processes[100].uuid == "u-2"


def test_a_busy_qemu_has_its_threads_read_every_few_samples(tmp_path):
    """A QEMU that uses CPU and whose main thread sleeps or runs is
    scanned every SCAN_EVERY samples; one that went quiet, every sample;
    one with a thread in D is looked at again the next sample, so a
    stuck worker thread is blocked within SCAN_EVERY + 1 samples."""
    proc = FakeProc(tmp_path / "proc")
    proc.process(100, uuid="busy", cpu=0)
    proc.process(200, uuid="quiet", cpu=0)
    table = host_probe.QemuTable(proc.root, cgroup_v2=str(tmp_path))
    table.sample()  # first look: both read
    scans = []
    for n in range(1, 9):
        proc.cpu(100, n * 50)  # 0.5 s of CPU per sample
        before = table.scans
        table.sample()
        scans.append(table.scans - before)
    assert sum(scans) == 8 + 2  # quiet every time, busy twice in 8

    proc.thread(100, 101, "D")  # stuck while the vCPUs keep running
    blocked_after = None
    for n in range(9, 9 + host_probe.SCAN_EVERY + 1):
        proc.cpu(100, n * 50)
        if table.sample()[1]:
            blocked_after = n - 8
            break
    assert blocked_after is not None
    assert blocked_after <= host_probe.SCAN_EVERY + 1


def test_cgroup_mounts_of_a_hybrid_and_a_unified_host():
    hybrid = (
        "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    unified = "30 23 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw\n"
    assert host_probe.cgroup_mounts(hybrid) == (
        "/sys/fs/cgroup/unified", "/sys/fs/cgroup/freezer")
    assert host_probe.cgroup_mounts(unified) == ("/sys/fs/cgroup", None)


# -- the probe ---------------------------------------------------------------
def test_samples_carry_the_loop_lag_and_what_the_table_saw(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    proc.process(100, uuid="u-1", state="T")
    posted = []
    probe = host_probe.HostProbe(
        "qemu:///system", posted.append, threads.Pool(1, "host"),
        proc=proc.root, table=host_probe.QemuTable(
            proc.root, cgroup_v2=str(tmp_path)), lag_tick=0.05)
    probe.watch_qemu(True)

    async def run():
        task = asyncio.ensure_future(probe.run(lambda: 0.4))
        await asyncio.sleep(0.1)
        time.sleep(0.3)  # the loop is held up: lag
        while len(posted) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
    asyncio.run(run())
    first, second = posted[:2]
    assert isinstance(first, obs.HostSample)
    assert second.stopped == {"u-1"} and second.qemu_read
    assert max(first.loop_lag, second.loop_lag) >= 0.2
    assert second.pressure == ()  # no pressure files in the fake tree


def test_qemu_processes_are_read_only_while_the_engine_asks(tmp_path):
    """A healthy host's sample is the pressure alone; asked to, the probe
    reads the QEMU processes at once, not at its next period."""
    reads = []

    class Table:
        def sample(self):
            reads.append(1)
            return frozenset({"u-1"}), frozenset()

    posted = []
    probe = host_probe.HostProbe("qemu:///system", posted.append,
                                 threads.Pool(1, "host"), table=Table())

    async def run():
        task = asyncio.ensure_future(probe.run(lambda: 60.0))
        while not posted:
            await asyncio.sleep(0.01)
        probe.watch_qemu(True)
        while len(posted) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
    asyncio.run(asyncio.wait_for(run(), 10))
    quiet, watched = posted[:2]
    assert not quiet.qemu_read and not quiet.stopped
    assert watched.qemu_read and watched.stopped == {"u-1"}
    assert len(reads) == 1


def test_a_remote_libvirt_has_no_qemu_processes_here():
    posted = []
    probe = host_probe.HostProbe("qemu+tcp://compute-7/system",
                                 posted.append, threads.Pool(1, "host"))
    asyncio.run(probe.sample(1.0))
    sample, = posted
    assert not sample.qemu_read and not sample.stopped
    assert probe.table is None


def test_a_slow_read_does_not_hold_the_probe():
    """A read stuck in its worker (a /proc file of a process stuck in D):
    each sample still comes, without QEMU processes, and no second read
    starts while the first is stuck."""
    release = threading.Event()
    calls = []

    class Stuck:
        def sample(self):
            calls.append(1)
            release.wait(10)
            return frozenset(), frozenset()

    posted = []
    probe = host_probe.HostProbe("qemu:///system", posted.append,
                                 threads.Pool(2, "host"), table=Stuck())
    probe.watch_qemu(True)

    async def run():
        await probe.sample(0.1)
        await probe.sample(0.1)
        release.set()
        while not probe._reading.done():
            await asyncio.sleep(0.01)
        await probe.sample(1.0)
    asyncio.run(run())
    assert [s.qemu_read for s in posted] == [False, False, True]
    assert len(calls) == 2


# -- cost --------------------------------------------------------------------
def measure(table, rounds=20):
    table.sample()
    before = (table.rounds, table.scans, table.threads_read)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        table.sample()
        times.append(time.perf_counter() - started)
    done = rounds, table.scans - before[1], table.threads_read - before[2]
    return statistics.median(times), done[1] / rounds, done[2] / rounds


def test_cost_of_a_sample_with_40_qemus(children, monkeypatch):
    """40 processes that look like QEMU, 10 threads each, on the real
    /proc (and whatever real QEMUs run here).  Idle, they use no CPU, so
    every thread of each is read at every sample: the worst case.  Then
    as busy QEMUs (QUIET_TICKS below any growth): their threads are read
    every SCAN_EVERY samples."""
    for _ in range(40):
        children.start(threads=10)
    children.ready()
    qemus = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit()
                and (p / "comm").exists() and
                (p / "comm").read_text().startswith("qemu"))
    worst, scanned, threads_read = measure(host_probe.QemuTable())
    monkeypatch.setattr(host_probe, "QUIET_TICKS", -1)
    busy, busy_scanned, busy_threads = measure(host_probe.QemuTable())
    started = time.perf_counter()
    host_probe.read_pressure()
    pressure = time.perf_counter() - started
    print("\nhost sample with %d QEMUs: all threads read (%.0f QEMUs, %.0f "
          "threads): median %.0f us, %.1f us per thread; busy QEMUs "
          "(%.1f scanned, %.0f threads): median %.0f us; PSI %.0f us" % (
              qemus, scanned, threads_read, worst * 1e6,
              worst / threads_read * 1e6, busy_scanned, busy_threads,
              busy * 1e6, pressure * 1e6))
    assert worst < 0.2  # generous: the figures go to the docstring
    assert busy_threads < threads_read / 2


def test_a_failing_read_is_loud_and_the_samples_go_on(caplog):
    class Broken:
        def sample(self):
            raise RuntimeError("unexpected")

    posted = []
    probe = host_probe.HostProbe("qemu:///system", posted.append,
                                 threads.Pool(1, "host"), table=Broken())
    probe.watch_qemu(True)
    asyncio.run(probe.sample(1.0))
    assert posted == [obs.HostSample(qemu_read=False)]
    assert "Host sample not read" in caplog.text


def test_odd_proc_files_are_skipped(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    proc.process(100, uuid="u-1", cgroup="garbage\n0::/machine/vm\n")
    (proc.root / "200").mkdir()
    (proc.root / "200" / "stat").write_text("200 (trunc")
    table = host_probe.QemuTable(proc.root, cgroup_v2=str(tmp_path))
    assert table.sample() == (frozenset(), frozenset())
    assert 200 not in table.processes
