"""Work spread over worker processes or a helper thread, results kept in order.

``tile`` and ``vectorize`` cut their input into independent pieces (runs of
windows, blocks) whose results must be combined in grid order. Workers are
forked, so they start at once and inherit the imports already made; each opens
its own datasets (GDAL handles must not cross a fork).

``detect`` instead runs its model in a helper thread (:func:`read_ahead`):
ONNX Runtime, PyTorch and GDAL release the GIL, so the model works on the next
windows while this thread blends, scores and writes the last ones.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: Tasks handed to the pool per worker ahead of the one the caller waits for: enough to keep
#: every worker busy, few enough that finished results do not pile up in memory.
IN_FLIGHT = 2


def available_cpus() -> int:
    """CPUs this process may run on (its affinity, where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def ordered_map(
    work: Callable[..., T],
    tasks: Sequence[tuple[Any, ...]],
    jobs: int,
    *,
    while_waiting: Callable[[], None] | None = None,
) -> Iterator[T]:
    """``work(*task)`` for every task, yielded in task order.

    With ``jobs`` > 1 and more than one task, the tasks run in a pool of up to
    ``jobs`` forked processes (``work`` must be a module-level function and
    its results picklable); otherwise in this process, one at a time as the
    caller asks for them. At most :data:`IN_FLIGHT` tasks per worker are queued
    or done ahead of the caller. An error in a task, an interruption or closing
    the iterator early terminates the workers at once.

    Results are unpickled in the pool's own thread: import every module they
    need before calling, or that thread and ``while_waiting`` may import the same
    module at once and one of them see it half-initialised.

    Args:
        while_waiting: Called once the workers are started, in this process,
            so that it prepares something (imports, say) instead of idling.
    """
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield work(*task)
        return
    workers = min(jobs, len(tasks))
    context = multiprocessing.get_context("fork" if os.name == "posix" else None)
    pool = context.Pool(workers, initializer=_start_worker, initargs=(os.getpid(),))
    try:
        pending: collections.deque = collections.deque()
        queued = iter(tasks)
        for task in itertools.islice(queued, IN_FLIGHT * workers):
            pending.append(pool.apply_async(work, task))
        if while_waiting is not None:
            while_waiting()
        while pending:
            result = pending.popleft().get()
            for task in itertools.islice(queued, 1):
                pending.append(pool.apply_async(work, task))
            yield result
        pool.close()
    finally:  # an error, an interruption or a caller that stopped early: stop the workers now
        pool.terminate()
        pool.join()


def _start_worker(parent: int) -> None:
    """Workers leave interruptions to the parent, and die with it.

    Ctrl-C reaches the whole process group: the parent alone handles it, by
    terminating the pool (SIGTERM, default action here). Should the parent be
    killed outright, Linux sends each worker SIGTERM too (``PR_SET_PDEATHSIG``).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of ``items``, produced in a helper thread up to ``depth`` ahead of use.

    ``items`` is iterated in that thread only (keep its datasets to it). An
    exception there is raised here, at the item it replaced. Closing the
    returned iterator early (an error here, Ctrl-C) stops the helper after the
    item it is producing, and waits for that: for ``detect``, one batch.
    """
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put("error", exc)
            return
        finally:  # a generator stopped early cleans up here, in the thread that ran it
            close = getattr(items, "close", None)
            if close is not None:
                close()
        put("done", None)

    helper = threading.Thread(target=produce, name="geonoise-read-ahead", daemon=True)
    helper.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "error":
                raise value
            if kind == "done":
                return
            yield value
    finally:
        stop.set()
        helper.join()
