"""The officers' HTTP API (aiohttp): the app factory and the error middleware. Route modules
validate, delegate to the intake, the order desk or the store, and render; every client error is
JSON naming the field at fault."""

from __future__ import annotations

import structlog
from aiohttp import web

from gateway.cases.desk import CaseDesk
from gateway.console import site as console
from gateway.events.reconcile import Reconciler
from gateway.http.access import (
    ANONYMOUS,
    AUTHORITY,
    COURTS,
    LIMITER,
    REFUSALS,
    RateLimiter,
    SharedRateLimiter,
    audit_refusal,
    authenticate,
    housekeeping,
)
from gateway.http.auth import TokenAuthority
from gateway.http.errors import ApiError
from gateway.http.io import BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT_S
from gateway.http.keys import CASES, COMPLETIONS, DESK, DIRECTORY, INTAKE, RECONCILER, RESTRICTIONS, STORE, WATCHES
from gateway.http.refusals import RefusalLog
from gateway.http.routes import alerts, cases, figures, inquiries, meta, ops, orders, restrictions, watches
from gateway.http.routes.inquiries import MAX_BATCH_BYTES
from gateway.inquiries.completions import Completions
from gateway.inquiries.intake import Intake
from gateway.orders.desk import OrderDesk
from gateway.orders.restrictions import RestrictionDesk
from gateway.store.interfaces import Store
from gateway.watches.wiring import Watches
from infra import metrics
from schemas.courts import Courts
from schemas.directory import Directory

log = structlog.get_logger("api")


@web.middleware
async def json_errors(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Every error leaves as JSON: framework 404/405s included, and 500s without internals."""
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except ApiError as exc:
        status = exc.status
        audit_refusal(request, exc)
        raise
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status = exc.status
        raise ApiError(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason) from None
    except Exception:
        log.exception("unhandled error", path=request.path)
        raise ApiError(500, "internal_error", "the gateway failed to handle this request") from None
    finally:
        metrics.HTTP.labels(request.method, route, str(status)).inc()


def create_app(store: Store, intake: Intake, desk: OrderDesk, directory: Directory, courts: Courts,
               authority: TokenAuthority, limiter: RateLimiter | SharedRateLimiter, completions: Completions | None = None,
               reconciler: Reconciler | None = None, watch_parts: Watches | None = None,
               anonymous: RateLimiter | SharedRateLimiter | None = None, body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
               console_demo: tuple[str, ...] = ()) -> web.Application:
    """``anonymous`` limits requests without a valid token per client address (default 10 a second,
    bursts of 100); a request body must arrive within ``body_timeout_s``. The officers' web console
    is mounted at ``/``; ``console_demo`` (credential numbers) turns its demo sign-in on."""
    # aiohttp's own body limit is set above ours so that read_limited answers with JSON.
    app = web.Application(middlewares=[json_errors, authenticate], client_max_size=MAX_BATCH_BYTES + 1)
    app[STORE], app[INTAKE], app[DIRECTORY], app[DESK] = store, intake, directory, desk
    app[AUTHORITY], app[LIMITER], app[COURTS] = authority, limiter, courts
    app[ANONYMOUS] = anonymous or RateLimiter(rate=10, burst=100)
    app[BODY_TIMEOUT] = body_timeout_s
    app[REFUSALS] = RefusalLog(store.access)
    app.cleanup_ctx.append(housekeeping)
    app[COMPLETIONS] = completions or Completions()
    app[CASES] = CaseDesk(store, courts)
    if reconciler is not None:
        app[RECONCILER] = reconciler
    app[WATCHES] = watch_parts or Watches(store, desk, directory)
    app[RESTRICTIONS] = RestrictionDesk(store, directory, desk.deadline_s, desk.on_ready)
    for routes in (orders, restrictions, cases, figures, watches, alerts, inquiries, ops, meta):
        routes.setup(app)
    console.setup(app, console_demo)
    return app
