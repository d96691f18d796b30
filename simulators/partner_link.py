"""The institutions' side of the signed partner link (``schemas.signing``).

A middleware verifies every request to ``/{institution_id}/...`` before any handler runs, so an
unauthenticated request reaches no behaviour, ledger or answer: it gets 401
``{"error": "unauthenticated", "reason"}`` and is counted by reason, readable at
``GET /admin/security``. ``/healthz`` and ``/admin/...`` are not signed: they are the test and
operator endpoints, served on loopback; nor is ``/openapi.json``, the contract
(``simulators.openapi``). Without partner keys the guard only counts (nothing), which keeps unit
tests and explicitly insecure runs working.

The nonces seen are told to the process's ``Journal`` (``JournalledNonces``) and stored with the
answer, so a request captured before a restart is still refused as replayed after it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from schemas.signing import MAX_SKEW_S, NonceCache, PartnerKeys, SignatureError, verify
from simulators.apps.common import json_response
from simulators.journal import Journal

log = structlog.get_logger("simulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class JournalledNonces(NonceCache):
    """The nonce cache, telling the journal each new nonce (``restore`` loads stored ones untold)."""

    def __init__(self, journal: Journal, max_skew_s: float = MAX_SKEW_S) -> None:
        super().__init__(max_skew_s)
        self._journal = journal

    def add(self, key_id: str, nonce: str, now: float) -> bool:
        new = super().add(key_id, nonce, now)
        if new:
            self._journal.nonce_seen(key_id, nonce, now)
        return new

    def restore(self, seen: list[tuple[str, str, float]]) -> None:
        """Nonces stored before a restart, oldest first."""
        for key_id, nonce, at in seen:
            super().add(key_id, nonce, at)


@dataclass
class PartnerGuard:
    keys: PartnerKeys | None  # None: no verification
    max_skew_s: float = MAX_SKEW_S
    clock: Callable[[], float] = time.time  # wall clock: timestamps are unix seconds
    refused: Counter[str] = field(default_factory=Counter)
    shared_nonces: NonceCache | None = None  # the process's, shared by its apps; else the guard's own
    nonces: NonceCache = field(init=False)

    def __post_init__(self) -> None:
        # Not ``or``: an empty cache is falsy (it has a length).
        self.nonces = self.shared_nonces if self.shared_nonces is not None else NonceCache(self.max_skew_s)


GUARD = web.AppKey("partner_guard", PartnerGuard)


def _exempt(path: str) -> bool:
    return path in ("/healthz", "/openapi.json") or path.startswith("/admin/")


@web.middleware
async def verify_partner(request: web.Request, handler: Handler) -> web.StreamResponse:
    guard = request.app[GUARD]
    if guard.keys is None or _exempt(request.path):
        return await handler(request)
    # The institution addressed is the first path segment, whether or not a route matched:
    # an unsigned request learns nothing, not even which paths exist.
    institution_id = request.path.split("/", 2)[1]
    body = await request.read()  # aiohttp keeps it: the handler reads the same bytes
    try:
        verify(guard.keys, request.method, request.raw_path, body, request.headers,
               now=guard.clock(), nonces=guard.nonces, max_skew_s=guard.max_skew_s, institution_id=institution_id)
    except SignatureError as exc:
        guard.refused[exc.reason] += 1
        log.warning("unauthenticated partner request refused", institution=institution_id, reason=exc.reason,
                    method=request.method, path=request.path, remote=request.remote)
        return json_response({"error": "unauthenticated", "reason": exc.reason}, status=401)
    return await handler(request)


async def security(request: web.Request) -> web.Response:
    guard = request.app[GUARD]
    return json_response({"verifying": guard.keys is not None, "refused": dict(guard.refused)})


def install(app: web.Application, keys: PartnerKeys | None, nonces: NonceCache | None = None) -> None:
    """Put the guard in front of ``app`` and add ``GET /admin/security``."""
    app[GUARD] = PartnerGuard(keys, shared_nonces=nonces)
    app.middlewares.append(verify_partner)
    app.router.add_get("/admin/security", security)
