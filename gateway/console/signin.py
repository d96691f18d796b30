"""Signing in: paste a token (checked by the gateway's own authentication on a first API call), or
pick a demo officer where the demo is on; signing out forgets the session."""

from __future__ import annotations

from aiohttp import web

from gateway.console.api import GatewayApi, Refused
from gateway.console.demo import COURT, COURT_CODE, DemoOfficer
from gateway.console.guard import form_text, page, same_origin, see_other
from gateway.console.render import render
from gateway.console.sessions import SESSIONS, Session
from gateway.http.access import ANONYMOUS, AUTHORITY
from gateway.http.auth import AuthError

DEMO = web.AppKey("console_demo", list)
HOME = "/console/cases"


async def signin_page(request: web.Request) -> web.Response:
    return render(request, "signin.html", demo=request.app[DEMO])


async def signin(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):
        return render(request, "signin.html", status=403, demo=request.app[DEMO], problem="登录表单来自别处，已拒绝。")
    if request.app[ANONYMOUS].wait_s(request.remote or ""):
        return render(request, "signin.html", status=429, demo=request.app[DEMO], problem="尝试过于频繁，请稍后再试。")
    form = await request.post()
    token = form_text(form, "token").removeprefix("Bearer ").strip()
    try:
        officer = request.app[AUTHORITY].verify(f"Bearer {token}")
    except AuthError as exc:
        return render(request, "signin.html", status=401, demo=request.app[DEMO], problem=f"令牌无效：{exc.reason}")
    response = see_other(HOME)
    session = request.app[SESSIONS].open(officer, token, response)
    try:  # the gateway's own checks (court directory, roles) decide, not the console
        await GatewayApi(request, session).get("/v1/cases", limit=1)
    except Refused as exc:
        request.app[SESSIONS].by_id.pop(session.id, None)
        return render(request, "signin.html", status=exc.status, demo=request.app[DEMO], problem=f"网关拒绝此令牌：{exc.message}")
    return response


async def demo_signin(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):
        return render(request, "signin.html", status=403, demo=request.app[DEMO], problem="登录表单来自别处，已拒绝。")
    form = await request.post()
    chosen: DemoOfficer | None = next((o for o in request.app[DEMO] if o.id == form_text(form, "officer")), None)
    if chosen is None:
        return render(request, "signin.html", status=403, demo=request.app[DEMO], problem="演示登录未开启或没有这位演示人员。")
    token = request.app[AUTHORITY].issue(chosen.id, COURT, COURT_CODE, list(chosen.roles), credentials=[chosen.credential])
    response = see_other(HOME)
    request.app[SESSIONS].open(request.app[AUTHORITY].verify(f"Bearer {token}"), token, response)
    return response


@page
async def signout(request: web.Request, session: Session, api: GatewayApi) -> web.StreamResponse:
    response = see_other("/console/signin")
    request.app[SESSIONS].close(request, response)
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/console/signin", signin_page)
    app.router.add_post("/console/signin", signin)
    app.router.add_post("/console/signin/demo", demo_signin)
    app.router.add_post("/console/signout", signout)
