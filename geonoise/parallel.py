"""Work spread over worker processes, results kept in order.

``tile`` and ``vectorize`` cut their input into independent pieces (runs of
windows, blocks) whose results must be combined in grid order. Workers are
forked, so they start at once and inherit the imports already made; each opens
its own datasets (GDAL handles must not cross a fork).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


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
    caller asks for them. An error in a task cancels the tasks not started.

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
    context = multiprocessing.get_context("fork") if os.name == "posix" else None
    with ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=context) as pool:
        futures = [pool.submit(work, *task) for task in tasks]
        try:
            if while_waiting is not None:
                while_waiting()
            for future in futures:
                yield future.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
