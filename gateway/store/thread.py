"""The bulk writes off the event loop: a store of its own, used by one worker thread.

The outbox relay, the result consumer and a batch's parts move thousands of legs a second; done on
the event loop, their SQL held it for most of every second of a large batch, and every other
request (``/healthz`` included) waited behind it. Here they run one at a time on a dedicated
thread, on their own connection: the database releases the GIL while it works, so the loop keeps
answering. The loop's own writes (an officer's order, a one-debtor inquiry) and the thread's take
turns transaction by transaction (for SQLite, a process-wide write lock per file:
gateway/store/sqlite/connection.py), so the thread's transactions are kept short by its callers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from gateway.store.interfaces import Store

T = TypeVar("T")


class StoreThread:
    """``run(work, *args)`` calls ``work(*args)`` on the worker thread; ``work`` uses ``store``
    (this object's own, never the loop's)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def close(self) -> None:
        """After the loops that use it have stopped: finishes what was handed over, then closes."""
        self._executor.shutdown(wait=True)
        self.store.close()
