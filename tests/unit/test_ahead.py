"""recovery/backups/ahead.py: a stage run in its own thread keeps order, raises where it failed,
stops when its consumer stops, and never runs more than `depth` items ahead."""

import threading
import time
from collections.abc import Iterator

import pytest

from recovery.backups.ahead import ahead


def test_items_arrive_in_order_and_the_thread_is_gone_after() -> None:
    before = threading.active_count()
    assert list(ahead(iter(range(1000)))) == list(range(1000))
    assert threading.active_count() == before


def test_an_error_in_the_stage_is_raised_at_the_item_where_it_happened() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("stream broke after 2")

    got = []
    with pytest.raises(ValueError, match="stream broke after 2"):
        for item in ahead(failing()):
            got.append(item)
    assert got == [1, 2]


def test_it_reads_at_most_depth_items_ahead_of_a_slow_consumer() -> None:
    produced: list[int] = []

    def counting() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    stage = ahead(counting(), depth=2)
    assert next(stage) == 0
    time.sleep(0.3)  # the producer runs free meanwhile: the queue (2) and one item in its hand bound it
    assert len(produced) <= 4
    stage.close()


def test_a_consumer_that_stops_early_stops_the_producer_and_closes_its_source() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                produced.append(i)
                yield i
                i += 1
        finally:
            closed.set()

    before = threading.active_count()
    stage = ahead(endless())
    with pytest.raises(BrokenPipeError):
        for item in stage:
            if item == 5:
                raise BrokenPipeError("tar stopped reading")
    stage.close()
    assert closed.wait(2), "the source generator was not closed"
    count = len(produced)
    time.sleep(0.2)
    assert len(produced) == count and count < 20
    assert threading.active_count() == before
