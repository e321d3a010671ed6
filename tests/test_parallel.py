"""parallel: ordered process maps and the read-ahead thread."""

from __future__ import annotations

import threading
import time

import pytest

from geonoise.parallel import ordered_map, read_ahead


def square(x: int) -> int:
    return x * x


def test_ordered_map_keeps_task_order_in_processes_and_here():
    tasks = [(i,) for i in range(7)]
    assert list(ordered_map(square, tasks, jobs=2)) == [i * i for i in range(7)]
    assert list(ordered_map(square, tasks, jobs=1)) == [i * i for i in range(7)]


def test_read_ahead_yields_every_item_in_order_from_another_thread():
    threads = []

    def items():
        for i in range(20):
            threads.append(threading.current_thread())
            yield i

    assert list(read_ahead(items(), depth=3)) == list(range(20))
    assert {t.name for t in threads} == {"geonoise-read-ahead"}


def counted(count: int, produced: list[int]):
    """0..count-1, each noted in ``produced`` when it is made."""
    for i in range(count):
        produced.append(i)
        yield i


def test_read_ahead_works_ahead_but_at_most_depth_items():
    produced: list[int] = []
    stream = read_ahead(counted(10, produced), depth=2)
    assert next(stream) == 0
    deadline = time.monotonic() + 10
    while len(produced) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # had it not blocked, it would run on to 10 now
    # one handed out, two queued, one made and waiting for room
    assert len(produced) == 4
    stream.close()


def test_read_ahead_raises_the_error_at_the_item_it_replaced():
    def items():
        yield 1
        yield 2
        raise ValueError("bad window")

    stream = read_ahead(items())
    assert next(stream) == 1
    assert next(stream) == 2
    with pytest.raises(ValueError, match="bad window"):
        next(stream)


def test_closing_read_ahead_early_stops_the_helper():
    produced: list[int] = []
    stream = read_ahead(counted(1000, produced), depth=1)
    assert next(stream) == 0
    stream.close()  # joins the helper: it must not run on to the end
    assert len(produced) < 10
    assert not any(t.name == "geonoise-read-ahead" for t in threading.enumerate())


def test_closing_read_ahead_closes_the_generator_in_its_thread():
    closed_in = []

    def items():
        try:
            yield from range(100)
        finally:
            closed_in.append(threading.current_thread().name)

    stream = read_ahead(items(), depth=1)
    assert next(stream) == 0
    stream.close()
    assert closed_in == ["geonoise-read-ahead"]
