"""Nothing is answered before it is stored: the middleware that flushes the process's ``Journal``
after a handler and before its answer leaves (``simulators.journal``).

A handler changes state in memory (an order's ledger, its answer, its events, the request's nonce)
and returns; the flush writes all that in one transaction, and only then is the answer sent. A
crash before the flush loses only what nobody was told (the partner retries and gets it done
again); a crash after it loses nothing. Refusals (raised ``HTTPException``) are answers too. If
the store fails, the partner gets a 503 and retries, and the changes stay pending: the next answer
that leaves carries them to disk first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from simulators.apps.common import CONTEXT, json_response
from simulators.journal import JournalError

log = structlog.get_logger("simulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _stored(request: web.Request) -> bool:
    try:
        request.app[CONTEXT].ledgers.journal.flush()
    except JournalError as exc:
        log.error("changes not stored; answering 503", error=str(exc), path=request.path)
        return False
    return True


def _unstored() -> web.Response:
    return json_response({"error": "unavailable", "reason": "the institution could not record the change; try again"}, status=503)


@web.middleware
async def record_before_answering(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException:
        if not _stored(request):
            return _unstored()
        raise
    return response if _stored(request) else _unstored()
