"""The worker pool: bounded, daemon threads, start times reported."""
import asyncio
import subprocess
import sys
import textwrap
import threading
import time

from monitor import threads


def test_calls_run_at_most_size_at_once():
    pool = threads.Pool(3, "t")
    running, peak, lock = [0], [0], threading.Lock()

    def job():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return "done"

    futures = [pool.submit(job) for _ in range(9)]
    assert [f.result(5) for f in futures] == ["done"] * 9
    assert peak[0] == 3 and pool.idle == 3


def test_started_is_when_a_worker_took_the_call():
    async def main():
        pool = threads.Pool(1, "t")
        loop = asyncio.get_running_loop()
        _, first = pool.call(time.sleep, 0.3)
        submitted = loop.time()
        started, second = pool.call(time.sleep, 0)
        began = await started
        await asyncio.gather(first, second)
        return began - submitted

    assert asyncio.run(main()) >= 0.25  # queued behind the first call


def test_exceptions_reach_the_caller():
    async def main():
        return await threads.Pool(1, "t").run(int, "x")

    try:
        asyncio.run(main())
    except ValueError as exc:
        assert "invalid literal" in str(exc)
    else:
        raise AssertionError("no exception")


def test_a_blocked_call_does_not_keep_the_process_alive():
    """concurrent.futures' workers are joined at exit: one socket read
    that never returns kept the monitor alive after SIGTERM."""
    script = textwrap.dedent("""
        import threading, time
        from monitor import threads
        pool = threads.Pool(2, "t")
        pool.submit(threading.Event().wait)
        time.sleep(0.2)
        print("exiting", flush=True)
    """)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], timeout=30,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "exiting\n"
    assert time.monotonic() - started < 10


def test_shutdown_cancels_queued_calls():
    pool = threads.Pool(1, "t")
    blocker = threading.Event()
    pool.submit(blocker.wait, 5)
    queued = pool.submit(time.sleep, 0)
    pool.shutdown()
    blocker.set()
    assert queued.cancelled()


def test_defect_a_cancellation_is_never_lost():
    """asyncio.wait_for on Python 3.11 dropped a cancellation that came
    together with the result; the delivery loop around it never stopped
    and SIGTERM hung the monitor."""
    async def main(wait):
        inner = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(wait(inner, 10))
        await asyncio.sleep(0)  # the task waits for inner now
        inner.set_result("answer")
        task.cancel()
        try:
            return await task
        except asyncio.CancelledError:
            return "cancelled"

    assert asyncio.run(main(threads.within)) == "cancelled"


def test_within_times_out_and_cancels_what_it_waited_for():
    async def main():
        sleeper = asyncio.ensure_future(asyncio.sleep(10))
        try:
            await threads.within(sleeper, 0.05)
        except asyncio.TimeoutError:
            await asyncio.sleep(0)
            return sleeper.cancelled()

    assert asyncio.run(main()) is True
