"""Who may do what: authentication middleware, per-officer rate limits, and the court and role
checks the handlers call. Every refusal is written to the access audit before it is answered."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web

from gateway.http.auth import AuthError, Officer, TokenAuthority
from infra.clock import now_ms
from gateway.http.errors import ApiError
from gateway.store.interfaces import AccessAudit
from gateway.store.records import AccessEntry
from schemas.identifiers import court_code

PUBLIC = ("/healthz", "/v1/openapi.json")
OPS_PREFIXES = ("/metrics", "/v1/ops/")
AUTHORITY = web.AppKey("authority", TokenAuthority)
LIMITER = web.AppKey("limiter", "RateLimiter")
AUDIT = web.AppKey("audit", AccessAudit)
OFFICER = web.RequestKey("officer", Officer)


@dataclass
class RateLimiter:
    """A token bucket per officer: ``rate`` requests a second, bursts up to ``burst``."""

    rate: float
    burst: float
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def wait_s(self, officer_id: str, now: float | None = None) -> float:
        """0 if the request may go now (and takes a token), else seconds until one is free."""
        now = time.monotonic() if now is None else now
        tokens, last = self.buckets.get(officer_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self.buckets[officer_id] = (tokens - 1, now)
            return 0.0
        self.buckets[officer_id] = (tokens, now)
        return (1 - tokens) / self.rate


def refuse(request: web.Request, status: int, reason: str, field_name: str = "authorization") -> ApiError:
    officer: Officer | None = request.get(OFFICER)
    request.app[AUDIT].record(AccessEntry(now_ms(), officer.id if officer else None, officer.court if officer else None,
                                          request.method, request.path, status, reason))
    code = {401: "unauthenticated", 403: "forbidden", 429: "rate_limited"}[status]
    return ApiError(status, code, reason, [{"field": field_name, "message": reason}])


@web.middleware
async def authenticate(request: web.Request, handler):  # type: ignore[no-untyped-def]
    if request.path in PUBLIC:
        return await handler(request)
    try:
        officer = request.app[AUTHORITY].verify(request.headers.get("Authorization"))
    except AuthError as exc:
        raise refuse(request, exc.status, exc.reason) from None
    request[OFFICER] = officer
    if request.path.startswith(OPS_PREFIXES) and not officer.may("ops"):
        raise refuse(request, 403, "the ops role is needed")
    wait = request.app[LIMITER].wait_s(officer.id)
    if wait:
        error = refuse(request, 429, f"more than {request.app[LIMITER].rate:g} requests a second")
        error.headers["Retry-After"] = str(max(1, round(wait)))
        raise error
    return await handler(request)


def officer_of(request: web.Request) -> Officer:
    return request[OFFICER]


def require_court(request: web.Request, court: str, case_number: str | None = None, field_name: str = "court") -> None:
    """An officer sees and acts on his own court's cases only."""
    officer = officer_of(request)
    if court != officer.court or (case_number is not None and court_code(case_number) != officer.court_code):
        raise refuse(request, 403, f"the case belongs to another court than {officer.court}", field_name)


def require_role(request: web.Request, role: str) -> None:
    if not officer_of(request).may(role):
        raise refuse(request, 403, f"the {role} role is needed")


def require_self(request: web.Request, named: str | None, field_name: str) -> str:
    """The acting officer is the authenticated one; a body may repeat the id but not change it."""
    officer = officer_of(request)
    if named is not None and named != officer.id:
        raise refuse(request, 403, f"{field_name} must be the authenticated officer ({officer.id})", field_name)
    return officer.id
