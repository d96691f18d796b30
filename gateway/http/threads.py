"""Large answers built in a worker thread, on a store reader of their own, so the event loop
keeps serving others while a report of 1,000 debtors (28,000 legs) is read and encoded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from gateway.store.interfaces import Store

T = TypeVar("T")


class ThreadReader:
    """Runs ``work(reader, *args)`` in a worker thread, one call at a time. If the request is
    cancelled mid-call, the thread finishes its call before the reader is closed under it."""

    def __init__(self, store: Store) -> None:
        self.reader = store.reader()
        self.running: asyncio.Future[Any] | None = None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        self.running = asyncio.ensure_future(asyncio.to_thread(work, self.reader, *args))
        return await asyncio.shield(self.running)

    def __enter__(self) -> ThreadReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.running is None or self.running.done():
            self.reader.close()
        else:
            self.running.add_done_callback(lambda _: self.reader.close())

