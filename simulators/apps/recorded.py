"""Nothing is answered before it is stored: the middleware that flushes the process's ``Journal``
after a handler and before its answer leaves (``simulators.journal``).

A handler changes state in memory (an order's ledger, its answer, its events, the request's nonce)
and returns; the flush writes all that in one transaction, and only then is the answer sent. A
crash before the flush loses only what nobody was told (the partner retries and gets it done
again); a crash after it loses nothing. Refusals (raised ``HTTPException``) are answers too. If
the store fails, the partner gets a 503 and retries, and the changes stay pending: the next answer
that leaves carries them to disk first.

Group commit: the answers ready in one turn of the event loop share one flush (a commit costs
more than the changes of an order), so under load a commit carries many answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from simulators.apps.common import json_response
from simulators.journal import Journal, JournalError

log = structlog.get_logger("simulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


class GroupFlush:
    """``await stored()``: the journal has been flushed since the caller's changes were made."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._next: asyncio.Future[None] | None = None

    async def stored(self) -> None:
        if self._next is None:  # the first answer of this turn: the flush runs once the turn's handlers are done
            loop = asyncio.get_running_loop()
            self._next = loop.create_future()
            self._next.add_done_callback(lambda f: f.cancelled() or f.exception())  # waiters may all be gone
            loop.call_soon(self._flush)
        await asyncio.shield(self._next)

    def _flush(self) -> None:
        done, self._next = self._next, None
        assert done is not None
        try:
            self._journal.flush()
        except JournalError as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)


def middleware(journal: Journal) -> Middleware:
    group = GroupFlush(journal)

    async def stored(request: web.Request) -> bool:
        try:
            await group.stored()
        except JournalError as exc:
            log.error("changes not stored; answering 503", error=str(exc), path=request.path)
            return False
        return True

    @web.middleware
    async def record_before_answering(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException:
            if not await stored(request):
                return _unstored()
            raise
        return response if await stored(request) else _unstored()

    return record_before_answering


def _unstored() -> web.Response:
    return json_response({"error": "unavailable", "reason": "the institution could not record the change; try again"}, status=503)
