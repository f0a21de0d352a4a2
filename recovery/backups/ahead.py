"""An iterator run one stage ahead in its own thread, so the stages of a stream overlap.

A restore reads, decrypts and hashes the stored bytes, expands them and writes them into
`tar -x`; in one thread each stage waits for the others (measured at 1 GB: 9.4 s, of which
3.2 s zstd and 4.4 s writes into tar's pipe). hashlib, zstd and pipe writes release the GIL,
so on two cores the stages can run side by side. At most `depth` items wait between two
stages: memory stays bounded whatever the object's size.
"""

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")

_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """`items` in order, produced by a background thread up to `depth` items ahead.

    An error in `items` is raised here, at the item where it happened. When the consumer stops
    early (an error of its own, or `close()`), the producer stops at its next item: nothing is
    left running or blocked.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def give(item: object) -> bool:
        while not stopped.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not give(item):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            give(_Failed(err))
            return
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's own cleanup (its readers' pool) runs now, in this thread
        give(_END)

    worker = threading.Thread(target=produce, name="crmdr-ahead", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
        worker.join()
