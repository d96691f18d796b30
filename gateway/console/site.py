"""The console mounted on the gateway's app: its pages, its static files, and the headers every
console response carries (a strict Content-Security-Policy: scripts, styles and everything else
only from the gateway itself, no inline script, no framing)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from gateway.console import alerts, cases, dashboard, exports, inquiries, orders, restrictions, signin
from gateway.console.api import http_client
from gateway.console.demo import demo_officers
from gateway.console.render import ENV, environment
from gateway.console.sessions import SESSIONS, Sessions
from gateway.http.access import CONSOLE_PREFIX as PREFIX
from gateway.http.access import is_console

STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "same-origin", "Cross-Origin-Opener-Policy": "same-origin"}


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    if is_console(request.path):
        response.headers.update(HEADERS)
        if not request.path.startswith(f"{PREFIX}/static/"):
            response.headers["Cache-Control"] = "no-store"  # pages hold personal data: never kept by the browser


async def _home(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": f"{PREFIX}/cases"})


def setup(app: web.Application, demo_credentials: tuple[str, ...] = ()) -> None:
    app[ENV] = environment()
    app[SESSIONS] = Sessions()
    app[signin.DEMO] = demo_officers(demo_credentials)
    app.cleanup_ctx.append(http_client)
    app.on_response_prepare.append(_headers)
    app.router.add_get("/", _home)
    app.router.add_get(PREFIX, _home)
    app.router.add_static(f"{PREFIX}/static", STATIC)
    for pages in (signin, cases, inquiries, orders, restrictions, alerts, dashboard, exports):
        pages.setup(app)
