"""The bulk writes off the event loop: a store of its own, used by one worker thread.

The outbox relay, the result consumer and a batch's parts move thousands of legs a second; done on
the event loop, their SQL held it for most of every second of a large batch, and every other
request (``/healthz`` included) waited behind it. Here they run one at a time on a dedicated
thread, on their own connection: the database releases the GIL while it works, so the loop keeps
answering. The loop's own writes (an officer's order, a one-debtor inquiry) and the thread's take
turns transaction by transaction (for SQLite, a process-wide write lock per file:
gateway/store/sqlite/connection.py), so the thread's transactions are kept short by its callers.

Work someone is waiting for (a batch's parts: the officer gets the 202 after the last one) goes
ahead of the relay's and the result consumer's, which would otherwise take turns with it and
stretch a 100,000-row batch's acceptance over the time it takes to ask all of it."""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from gateway.store.interfaces import Store

T = TypeVar("T")
URGENT, ROUTINE = 0, 1
_STOP = (2, 0, None)  # after everything handed over before it


class StoreThread:
    """``run(work, *args)`` calls ``work(*args)`` on the worker thread; ``work`` uses ``store``
    (this object's own, never the loop's). ``urgent`` work goes first."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()  # FIFO within a priority
        self._thread = threading.Thread(target=self._work, name="store-writer", daemon=True)
        self._thread.start()

    async def run(self, work: Callable[..., T], *args: Any, urgent: bool = False) -> T:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._queue.put((URGENT if urgent else ROUTINE, next(self._order), (loop, done, work, args)))
        return await done

    def _work(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            loop, done, work, args = job
            try:
                result = work(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                loop.call_soon_threadsafe(_settle, done, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, result, None)

    def close(self) -> None:
        """After the loops that use it have stopped: finishes what was handed over, then closes."""
        self._queue.put(_STOP)
        self._thread.join()
        self.store.close()


def _settle(done: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if done.cancelled():  # the awaiting coroutine went away; the work was done all the same
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        done.set_result(result)
