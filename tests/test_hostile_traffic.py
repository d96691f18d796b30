"""Hostile traffic: a flood of unauthenticated requests with long paths is limited per address and
costs the access audit a handful of counted rows; clients that trickle a request's head or body
are cut off."""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from gateway.http.access import RateLimiter
from gateway.http.app import create_app
from gateway.http.auth import TokenAuthority
from gateway.http.refusals import MAX_PATH, UNMATCHED, RefusalLog
from gateway.inquiries.intake import Intake
from gateway.orders.desk import OrderDesk
from gateway.store.factory import open_store
from gateway.store.records import AccessEntry
from schemas.courts import Courts
from schemas.directory import Directory
from tests.helpers import get_json

FLOODER, BYSTANDER = "127.0.0.3", "127.0.0.4"


def _from(address: str, base: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=32))


async def test_an_unauthenticated_flood_with_long_paths_gets_429_and_a_handful_of_audit_rows(stack, api) -> None:
    statuses: list[int] = []
    async with _from(FLOODER, stack.api_url) as flood:
        async def one() -> None:
            async with flood.get("/" + secrets.token_hex(4000)) as r:  # an 8 KB path no route matches
                await r.read()
                statuses.append(r.status)

        for _ in range(15):
            await asyncio.gather(*(one() for _ in range(100)))
        assert set(statuses) == {401, 429} and statuses.count(429) > 1000, sorted(set(statuses))
        async with flood.get("/v1/institutions") as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    async with _from(BYSTANDER, stack.api_url) as other, other.get("/v1/institutions") as r:
        assert r.status == 401  # another address is not held back
    assert (await get_json(api, "/healthz")) is not None
    rows = [a for a in await get_json(api, "/v1/ops/access-audit") if a["client"] == FLOODER]
    assert len(rows) <= 8, rows  # three of each kind as they came; the rest are counted when the minute closes
    assert all(len(a["path"]) <= MAX_PATH for a in rows)


def test_repeated_refusals_become_one_counted_row_per_minute() -> None:
    written: list[AccessEntry] = []

    class Audit:
        def record(self, entry: AccessEntry) -> None:
            written.append(entry)

    now = [0.0]
    log = RefusalLog(Audit(), clock=lambda: now[0])  # type: ignore[arg-type]
    flood = AccessEntry(1, None, None, "GET", "/x" * 5000, 401, "missing bearer token", client=FLOODER)
    for _ in range(500):
        log.record(flood, UNMATCHED)
    officer = AccessEntry(2, "OFFICER-A", "court", "GET", "/v1/ops/pending-legs", 403, "the ops role is needed")
    log.record(officer, "/v1/ops/pending-legs")  # a real refusal is written at once, flood or not
    assert [e.count for e in written] == [1, 1, 1, 1] and written[-1] == officer
    assert all(len(e.path) == MAX_PATH for e in written[:3])
    now[0] = 30.0
    log.flush()
    assert len(written) == 4  # the minute is not over
    now[0] = 60.0
    log.flush()
    assert written[-1].count == 497 and written[-1].path == UNMATCHED and written[-1].client == FLOODER
    log.record(flood, UNMATCHED)  # a new minute starts over
    assert len(written) == 6 and written[-1].count == 1


async def test_a_client_trickling_its_request_head_is_disconnected(stack) -> None:
    url = urlsplit(stack.api_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    started = time.monotonic()
    writer.write(b"GET /v1/institutions HTTP/1.1\r\n")
    closed = False
    try:
        for byte in b"X-Slow: " + b"a" * 200:  # a byte a second: the head would take minutes
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                closed = await asyncio.wait_for(reader.read(1), timeout=1.0) == b""
            except TimeoutError:
                continue
            if closed:
                break
    except ConnectionError:
        closed = True
    finally:
        writer.close()
    assert closed and time.monotonic() - started < 40, time.monotonic() - started


async def test_a_client_trickling_its_body_gets_408(tmp_path) -> None:
    store = open_store(tmp_path / "g.sqlite3")
    directory, courts, authority = Directory.from_counts(), Courts.built_in(), TokenAuthority(b"x" * 32)
    desk = OrderDesk(store, directory, courts, 60, lambda: None)
    app = create_app(store, Intake(store.inquiries, store.cases, directory, 60, lambda: None), desk, directory, courts, authority,
                     RateLimiter(rate=100, burst=100), body_timeout_s=0.5)
    token = authority.issue("OFFICER-A", "石家庄市裕华区人民法院", "冀0108", ["officer"])

    async def trickle():  # type: ignore[no-untyped-def]
        for _ in range(50):
            yield b" "
            await asyncio.sleep(0.1)

    async with TestClient(TestServer(app)) as client:
        r = await client.post("/v1/inquiries", data=trickle(), headers={"Authorization": f"Bearer {token}"})
        body = await r.json()
        assert r.status == 408 and body["errors"][0]["field"] == "body", body
    assert store.access.recent()[0].status == 408


def test_rate_limiters_forget_addresses_once_their_bucket_is_full_again() -> None:
    limiter = RateLimiter(rate=10, burst=100)
    for n in range(1000):
        limiter.wait_s(f"10.0.{n // 256}.{n % 256}", now=0.0)
    limiter.wait_s("10.9.9.9", now=9.0)
    limiter.prune(now=10.0)  # 100 tokens at 10 a second: full again after 10 s
    assert list(limiter.buckets) == ["10.9.9.9"]
