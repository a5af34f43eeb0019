"""Worker threads for blocking calls (libvirt RPCs, HTTP), as daemons.

Not ``concurrent.futures.ThreadPoolExecutor``: its workers are joined when
the interpreter exits, so one socket read that never returns (a hung
Masakari, a hung libvirtd) would keep the process alive after SIGTERM.
These workers are daemon threads: an unfinished call is abandoned at exit,
and its outbox entry is still pending on disk.

``Pool.call`` also reports when a worker actually started the call, so a
deadline can exclude the time spent waiting for a free worker.
"""
import asyncio
import concurrent.futures
import queue
import threading


class Pool(concurrent.futures.Executor):
    def __init__(self, size, name):
        self.size = size
        self._name = name
        self._jobs = queue.SimpleQueue()
        self._threads = []
        self._busy = 0
        self._lock = threading.Lock()
        self._closed = False

    @property
    def idle(self):
        """Workers free right now (counting those not yet started)."""
        with self._lock:
            return self.size - self._busy

    def submit(self, fn, *args, **kwargs):
        return self._submit(None, fn, args, kwargs)

    def _submit(self, on_start, fn, args, kwargs):
        if self._closed:
            raise RuntimeError("pool %s is shut down" % self._name)
        future = concurrent.futures.Future()
        with self._lock:
            self._busy += 1
            if len(self._threads) < min(self._busy, self.size):
                thread = threading.Thread(
                    target=self._work, daemon=True,
                    name="%s-%d" % (self._name, len(self._threads)))
                self._threads.append(thread)
                thread.start()
        self._jobs.put((future, on_start, fn, args, kwargs))
        return future

    def _work(self):
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, on_start, fn, args, kwargs = job
            try:
                if not future.set_running_or_notify_cancel():
                    continue
                if on_start is not None:
                    on_start()
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # handed to the caller
                    future.set_exception(exc)
            finally:
                with self._lock:
                    self._busy -= 1

    def call(self, fn, *args):
        """(started, done): asyncio futures of the running loop; ``started``
        resolves with the loop time at which a worker took the call."""
        loop = asyncio.get_running_loop()
        started = loop.create_future()

        def on_start():
            try:
                loop.call_soon_threadsafe(
                    lambda: started.done() or started.set_result(loop.time()))
            except RuntimeError:  # the loop is closed: nobody waits
                pass
        done = asyncio.wrap_future(self._submit(on_start, fn, args, {}),
                                   loop=loop)
        return started, done

    def run(self, fn, *args):
        """Awaitable result of ``fn(*args)`` in a worker."""
        return asyncio.wrap_future(self.submit(fn, *args))

    def shutdown(self, wait=False, *, cancel_futures=True):
        self._closed = True
        while cancel_futures:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
                with self._lock:
                    self._busy -= 1
        for _ in self._threads:
            self._jobs.put(None)


async def within(awaitable, timeout):
    """``asyncio.wait_for`` without losing a cancellation.

    On Python 3.11 (Debian 12's), ``wait_for`` returns the result and
    drops the cancellation when both arrive together (CPython gh-86296),
    and a loop around it then never stops: the monitor hung on SIGTERM.
    This waits with ``asyncio.wait``, which lets a cancellation through,
    and cancels what it waited for on timeout or cancellation.
    """
    future = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({future}, timeout=timeout)
    except asyncio.CancelledError:
        future.cancel()
        raise
    if not done:
        future.cancel()
        raise asyncio.TimeoutError()
    return future.result()
