"""Who may do what: authentication middleware, the role each route needs (one table), per-officer
rate limits, and the court checks the handlers call. Every refusal is written to the access audit
before it is answered (repeats counted, not written one by one: ``refusals.py``).

Requests without a valid token are limited per client address before anything is written, so a
flood of them gets 429s and a few counted audit rows while everyone else goes on being served.

Courts are known by code: a token's court code must be in the court directory under the name the
token gives, and a case belongs to the court whose code is in its case number. An officer presents
only the 执行公务证 numbers his token says are registered to him."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from gateway.http.auth import AuthError, Officer, TokenAuthority
from gateway.http.errors import ApiError
from gateway.http.refusals import UNMATCHED, RefusalLog
from gateway.store.interfaces import RateBuckets
from gateway.store.records import AccessEntry
from infra.clock import now_ms
from schemas.courts import Courts
from schemas.identifiers import court_code

# The role each route needs, by method and route template: the one table (the README mirrors
# it). A deduction also needs ``deduct`` on top of ``officer`` (its route checks the order type).
# A route missing here is refused to everyone: new routes must be placed in the table.
ROUTE_ROLES: dict[tuple[str, str], str] = {
    ("POST", "/v1/inquiries"): "officer",
    ("GET", "/v1/inquiries/{inquiry_id}"): "officer",
    ("POST", "/v1/inquiry-batches"): "officer",
    ("GET", "/v1/inquiry-batches/{batch_id}"): "officer",
    ("GET", "/v1/inquiry-batches/{batch_id}/reports"): "officer",
    ("GET", "/v1/institutions"): "officer",
    ("POST", "/v1/orders"): "officer",
    ("GET", "/v1/orders"): "officer",
    ("GET", "/v1/orders/{order_id}"): "officer",
    ("POST", "/v1/orders/{order_id}/approve"): "deduct",
    ("POST", "/v1/orders/{order_id}/decline"): "deduct",
    ("POST", "/v1/cases/{case_number}/freeze-plan"): "officer",
    ("POST", "/v1/restrictions"): "officer",
    ("POST", "/v1/restrictions/lift"): "officer",
    ("GET", "/v1/cases"): "officer",
    ("GET", "/v1/cases/{case_number}"): "officer",
    ("GET", "/v1/cases/{case_number}/reports"): "officer",
    ("GET", "/v1/figures"): "officer",
    ("POST", "/v1/cases/{case_number}/amendments"): "officer",
    ("POST", "/v1/watches"): "officer",
    ("GET", "/v1/watches"): "officer",
    ("GET", "/v1/watches/{watch_id}"): "officer",
    ("POST", "/v1/watches/{watch_id}/end"): "officer",
    ("GET", "/v1/alerts"): "officer",
    ("GET", "/v1/alerts/stream"): "officer",
    ("GET", "/v1/ops/pending-legs"): "ops",
    ("GET", "/v1/ops/access-audit"): "ops",
    ("POST", "/v1/ops/reconciliations"): "ops",
    ("GET", "/v1/ops/reconciliations"): "ops",
    ("GET", "/v1/ops/reconciliations/{run_id}"): "ops",
    ("GET", "/metrics"): "ops",
}
PUBLIC = {("GET", "/healthz"), ("GET", "/v1/openapi.json")}
# The officers' web console (gateway/console) signs officers in with sessions of its own and reads
# and acts only through this API with the officer's token, so its pages pass every check here then.
CONSOLE_PREFIX = "/console"
AUTHORITY = web.AppKey("authority", TokenAuthority)
COURTS = web.AppKey("courts", Courts)
LIMITER = web.AppKey("limiter", "RateLimiter | SharedRateLimiter")
ANONYMOUS = web.AppKey("anonymous", "RateLimiter | SharedRateLimiter")  # per client address, for requests without a valid token
REFUSALS = web.AppKey("refusals", RefusalLog)
HOUSEKEEPING_EVERY_S = 5.0
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

    def prune(self, now: float | None = None) -> None:
        """Forgets buckets that have filled up again (they would start full anyway), so a stream
        of new addresses does not grow the table without end."""
        now = time.monotonic() if now is None else now
        full_after = self.burst / self.rate
        self.buckets = {k: (t, last) for k, (t, last) in self.buckets.items() if now - last < full_after}


@dataclass
class SharedRateLimiter:
    """The same token buckets, kept in the store for every gateway sharing it (PostgreSQL), so an
    officer gets ``rate`` a second from all of them together. Keys are ``prefix`` + who."""

    buckets: RateBuckets
    prefix: str
    rate: float
    burst: float

    def wait_s(self, key: str, now: float | None = None) -> float:
        return self.buckets.take(self.prefix + key, self.rate, self.burst, time.time() if now is None else now)

    def prune(self, now: float | None = None) -> None:
        self.buckets.prune(self.prefix, self.rate, self.burst, time.time() if now is None else now)


def rate_limiter(buckets: RateBuckets | None, prefix: str, rate: float, burst: float) -> RateLimiter | SharedRateLimiter:
    """Buckets in the process, or in the store when gateways share one (``Peers.rate_buckets``)."""
    return RateLimiter(rate, burst) if buckets is None else SharedRateLimiter(buckets, prefix, rate, burst)


async def housekeeping(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: closes the refusal log's windows and prunes the rate limiters every few
    seconds, and writes every open count when the app stops."""

    async def every() -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_EVERY_S)
            app[REFUSALS].flush()
            app[LIMITER].prune()
            app[ANONYMOUS].prune()

    task = asyncio.create_task(every(), name="access-housekeeping")
    yield
    task.cancel()
    app[REFUSALS].flush(everything=True)


def _audit(request: web.Request, officer: Officer | None, status: int, reason: str) -> None:
    route = route_of(request)
    entry = AccessEntry(now_ms(), officer.id if officer else None, officer.court if officer else None,
                        request.method, request.path, status, reason, client=request.remote)
    request.app[REFUSALS].record(entry, route[1] if route else UNMATCHED)


def refuse(request: web.Request, status: int, reason: str, field_name: str = "authorization") -> ApiError:
    _audit(request, request.get(OFFICER), status, reason)
    code = {401: "unauthenticated", 403: "forbidden", 422: "validation_failed", 429: "rate_limited"}[status]
    error = ApiError(status, code, reason, [{"field": field_name, "message": reason}])
    error.audited = True
    return error


def audit_refusal(request: web.Request, error: ApiError) -> None:
    """A refusal a handler answered (a 4xx naming the field) joins the access audit under the
    officer's name, so every refused act of an officer is on record; unknown paths are not acts."""
    officer: Officer | None = request.get(OFFICER)
    if officer is None or error.audited or error.status in (404, 405) or not 400 <= error.status < 500:
        return
    _audit(request, officer, error.status, error.message[:500])
    error.audited = True


def route_of(request: web.Request) -> tuple[str, str] | None:
    """(method, route template) of a matched route; None when nothing matched (a 404 or 405)."""
    resource = request.match_info.route.resource
    if resource is None or request.match_info.http_exception is not None:
        return None
    return request.method, resource.canonical


def is_console(path: str) -> bool:
    return path == "/" or path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


@web.middleware
async def authenticate(request: web.Request, handler):  # type: ignore[no-untyped-def]
    route = route_of(request)
    if route in PUBLIC or (route is not None and is_console(route[1])):
        return await handler(request)
    try:
        officer = request.app[AUTHORITY].verify(request.headers.get("Authorization"))
    except AuthError as exc:
        wait = request.app[ANONYMOUS].wait_s(request.remote or "")
        if wait:
            error = refuse(request, 429, "too many requests without a valid token from this address")
            error.headers["Retry-After"] = str(max(1, round(wait)))
            raise error from None
        raise refuse(request, exc.status, exc.reason) from None
    request[OFFICER] = officer  # from here on, refusals are audited under the officer's name
    court = request.app[COURTS].get(officer.court_code)
    if court is None or court.name != officer.court:
        raise refuse(request, 401, f"the token's court {officer.court!r} ({officer.court_code}) is not in the court directory under that name")
    if route is not None:
        needed = ROUTE_ROLES.get(route)
        if needed is None:
            raise refuse(request, 403, "no role grants this route")
        if not officer.may(needed):
            raise refuse(request, 403, f"the {needed} role is needed")
    wait = request.app[LIMITER].wait_s(officer.id)
    if wait:
        error = refuse(request, 429, f"more than {request.app[LIMITER].rate:g} requests a second")
        error.headers["Retry-After"] = str(max(1, round(wait)))
        raise error
    return await handler(request)


def officer_of(request: web.Request) -> Officer:
    return request[OFFICER]


def require_case(request: web.Request, case_number: str, court: str | None = None,
                 case_field: str = "case_number", court_field: str = "court") -> None:
    """An officer sees and acts on his own court's cases only: the court whose code the case number
    carries. A court code the directory does not know is a bad case number (422); a body's ``court``
    name, where given, must be that court's."""
    officer = officer_of(request)
    owner = request.app[COURTS].get(court_code(case_number))
    if owner is None:
        raise refuse(request, 422, f"no court with the code {court_code(case_number)!r} in the court directory", case_field)
    if owner.code != officer.court_code:
        raise refuse(request, 403, f"the case belongs to another court than {officer.court}", case_field)
    if court is not None and court != owner.name:
        raise refuse(request, 422, f"the case's court is {owner.name}, not {court}", court_field)


def require_credentials(request: web.Request, credentials: Iterable[str], field_name: str = "officer_credentials") -> None:
    """Institutions act on the credential numbers a request presents, so an officer may present only
    his own: one presenting a colleague's would borrow the colleague's authority."""
    officer = officer_of(request)
    foreign = [c for c in credentials if not officer.holds(c)]
    if foreign:
        raise refuse(request, 403, f"not registered to {officer.id}: {', '.join(foreign)}", field_name)


def require_role(request: web.Request, role: str) -> None:
    if not officer_of(request).may(role):
        raise refuse(request, 403, f"the {role} role is needed")


def require_self(request: web.Request, named: str | None, field_name: str) -> str:
    """The acting officer is the authenticated one; a body may repeat the id but not change it."""
    officer = officer_of(request)
    if named is not None and named != officer.id:
        raise refuse(request, 403, f"{field_name} must be the authenticated officer ({officer.id})", field_name)
    return officer.id
