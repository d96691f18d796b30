"""The web console's guards, on an in-process gateway app (no broker needed for these): the
Content-Security-Policy and cookie flags, cross-site request forgery refused, tokens checked by
the gateway's own authentication, the demo sign-in off unless configured, role refusals shown
with the API's message, and no personal data in any URL a page links to."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.http.access import RateLimiter
from gateway.http.app import create_app
from gateway.http.auth import TokenAuthority
from gateway.inquiries.intake import Intake
from gateway.orders.desk import OrderDesk
from gateway.store.factory import open_store
from schemas.courts import Courts
from schemas.directory import Directory

SECRET = b"s" * 32
COURT, CODE = "石家庄市裕华区人民法院", "冀0108"
DEMO = ("ZF00000001", "ZF00000002")


async def _server(tmp_path, demo: tuple[str, ...]) -> TestServer:
    store = open_store(tmp_path / "g.sqlite3")
    directory, courts = Directory.from_counts(), Courts.built_in()
    desk = OrderDesk(store, directory, courts, 60, lambda: None)
    app = create_app(store, Intake(store.inquiries, store.cases, directory, 60, lambda: None), desk, directory, courts,
                     TokenAuthority(SECRET), RateLimiter(rate=1000, burst=1000), console_demo=demo)
    server = TestServer(app)
    await server.start_server()
    return server


@pytest.fixture
async def console(tmp_path) -> AsyncIterator[tuple[TestServer, aiohttp.ClientSession]]:
    server = await _server(tmp_path, DEMO)
    async with aiohttp.ClientSession(str(server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield server, http
    await server.close()


def token(roles: list[str], officer: str = "T-1", credentials: tuple[str, ...] = ("ZF00000001",)) -> str:
    return TokenAuthority(SECRET).issue(officer, COURT, CODE, roles, credentials=credentials)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def sign_in(http: aiohttp.ClientSession, roles: list[str]) -> str:
    async with http.post("/console/signin", data={"token": token(roles)}) as r:
        assert r.status == 200 and r.url.path == "/console/cases", await r.text()
        return csrf_of(await r.text())


async def test_pages_forbid_inline_script_and_framing_and_the_cookie_is_http_only_and_strict(console) -> None:
    _, http = console
    async with http.get("/console/signin") as r:
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert "<script>" not in await r.text()  # every script is a file of ours
    async with http.post("/console/signin", data={"token": token(["officer"])}, allow_redirects=False) as r:
        assert r.status == 303
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def test_the_root_leads_to_the_console_and_signed_out_pages_to_the_sign_in(console) -> None:
    _, http = console
    async with http.get("/") as r:
        assert r.url.path == "/console/signin" and "执行干警登录" in await r.text()


async def test_a_post_without_the_session_form_token_is_refused(console) -> None:
    _, http = console
    csrf = await sign_in(http, ["officer"])
    async with http.post("/console/signout", data={}) as r:
        assert r.status == 403 and "跨站请求伪造" in await r.text()
    async with http.post("/console/signout", data={"csrf_token": csrf + "x"}) as r:
        assert r.status == 403
    async with http.get("/console/cases") as r:  # still signed in: the forged posts changed nothing
        assert r.url.path == "/console/cases"
    async with http.post("/console/signout", data={"csrf_token": csrf}) as r:
        assert r.url.path == "/console/signin"


async def test_a_bad_token_and_a_foreign_origin_are_refused(console) -> None:
    _, http = console
    async with http.post("/console/signin", data={"token": "not-a-token"}) as r:
        assert r.status == 401 and "令牌无效" in await r.text()
    async with http.post("/console/signin/demo", data={"officer": "DEMO-A1"}, headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 403


async def test_the_demo_sign_in_is_off_unless_configured(tmp_path) -> None:
    server = await _server(tmp_path, ())
    try:
        async with aiohttp.ClientSession(str(server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get("/console/signin") as r:
                assert "演示登录" not in await r.text()
            async with http.post("/console/signin/demo", data={"officer": "DEMO-A1"}) as r:
                assert r.status == 403
    finally:
        await server.close()


async def test_a_demo_officer_signs_in_with_his_roles(console) -> None:
    _, http = console
    async with http.post("/console/signin/demo", data={"officer": "DEMO-C3"}) as r:
        page = await r.text()
        assert r.url.path == "/console/cases" and "DEMO-C3" in page
        assert "待审批扣划" not in page  # the clerk may not deduct: no approval queue


async def test_role_refusals_come_from_the_api_with_its_message(console) -> None:
    _, http = console
    csrf = await sign_in(http, ["officer"])
    async with http.post("/console/orders/no-such-order/approve", data={"csrf_token": csrf}) as r:
        assert r.status in (403, 404)
        assert "网关拒绝了此操作" in await r.text()
    async with http.get("/console/approvals") as r:
        assert r.status == 200  # listing is an officer's; approving needs deduct (checked by the API)


async def test_a_token_of_a_court_not_in_the_directory_is_refused_by_the_gateway(console) -> None:
    _, http = console
    foreign = TokenAuthority(SECRET).issue("T-9", "无此法院", "冀0199", ["officer"])
    async with http.post("/console/signin", data={"token": foreign}) as r:
        assert r.status == 401 and "网关拒绝此令牌" in await r.text()


async def test_no_page_links_carry_personal_data(console) -> None:
    _, http = console
    await sign_in(http, ["officer", "deduct"])
    for path in ("/console/cases", "/console/orders", "/console/approvals", "/console/alerts", "/console/dashboard",
                 "/console/inquiries/new"):
        async with http.get(path) as r:
            assert r.status == 200, (path, await r.text())
            links = re.findall(r'(?:href|action|hx-get|data-stream|data-src)="([^"]*)"', await r.text())
            assert links and not any(re.search(r"\d{17}[\dX]", link) for link in links), links


async def test_the_routes_behind_the_console_check_the_court_and_count_nothing_in_an_empty_court(console) -> None:
    server, _ = console
    headers = {"Authorization": f"Bearer {token(['officer'])}"}
    async with aiohttp.ClientSession(str(server.make_url("/")), headers=headers) as api:
        async with api.get("/v1/figures") as r:
            figures = await r.json()
            assert r.status == 200
            assert (figures["inquiries"], figures["legs_sent"], figures["answers"], figures["frozen_fen"]) == (0, 0, 0, 0)
            assert figures["institutions"] == [] and figures["timeline"]["points"] == []
        async with api.get("/v1/cases/(2025)冀0102执1号/reports") as r:  # another court's case
            assert r.status == 403 and (await r.json())["errors"][0]["field"] == "case_number"
        async with api.get("/v1/cases/(2025)冀0108执1号/reports") as r:
            assert r.status == 200 and (await r.json())["reports"] == []


async def test_an_amount_that_is_not_yuan_and_fen_is_refused_naming_the_field(console) -> None:
    _, http = console
    csrf = await sign_in(http, ["officer"])
    form = {"csrf_token": csrf, "case_number": "(2025)冀0108执1号", "amount_due": "12.345", "notice_number": "N-1",
            "id_number0": "130105197905157781", "name0": "潘萍"}
    async with http.post("/console/inquiries", data=form) as r:
        page = await r.text()
        assert r.status == 422 and "amount_due" in page and "two decimals" in page
