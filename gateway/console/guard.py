"""What every console page goes through: a signed-in session (else the sign-in page), the
session's form token on every POST (else 403), and the API's refusals shown as a page with the
API's own message, which names the field."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.console.api import GatewayApi, Refused
from gateway.console.render import render
from gateway.console.sessions import CSRF_FIELD, SESSION, SESSIONS, Session

Handler = Callable[[web.Request, Session, GatewayApi], Awaitable[web.StreamResponse]]
SIGN_IN = "/console/signin"


def page(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        session = request.app[SESSIONS].of(request)
        if session is None:
            raise web.HTTPSeeOther(SIGN_IN)
        request[SESSION] = session
        if request.method == "POST":
            form = await request.post()
            if not session.csrf_ok(_text(form.get(CSRF_FIELD))):
                return render(request, "error.html", status=403, title="请求被拒绝",
                              message="表单已失效或来自别处（跨站请求伪造防护）：请刷新页面后重试。")
        try:
            return await handler(request, session, GatewayApi(request, session))
        except Refused as exc:
            if exc.status == 401:  # the token expired or was replaced: sign in again
                raise web.HTTPSeeOther(SIGN_IN) from None
            return render(request, "error.html", status=exc.status, title="网关拒绝了此操作", message=exc.message,
                          errors=exc.body.get("errors") or [])
    return guarded


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def form_text(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None  # type: ignore[union-attr]
    return value.strip() if isinstance(value, str) else ""


def see_other(location: str) -> web.Response:
    """After a POST, the page to show next (303: the browser GETs it)."""
    return web.Response(status=303, headers={"Location": location})


def same_origin(request: web.Request) -> bool:
    """Forms posted before there is a session (signing in) carry no form token: the browser's
    Origin header must then be this site's, so another site cannot sign an officer in as someone else."""
    fetched_from = request.headers.get("Sec-Fetch-Site")  # set by every current browser, not by scripts
    if fetched_from is not None:
        return fetched_from in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"
