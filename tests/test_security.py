"""Who may do what: tokens, roles, courts, rate limits — each refusal audited, nothing changed."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from gateway.http.access import RateLimiter
from gateway.http.app import create_app
from gateway.http.auth import TokenAuthority
from gateway.inquiries.intake import Intake
from gateway.orders.desk import OrderDesk
from gateway.store.factory import open_store
from schemas.courts import Courts
from schemas.directory import Directory
from tests.helpers import CASE, COURT_B, COURT_CODES, case_body, debtor_json, get_json, officer_session, wait_inquiry


async def audit(api) -> list[dict]:  # type: ignore[no-untyped-def]
    return await get_json(api, "/v1/ops/access-audit")


async def test_only_health_is_open_without_a_token(stack) -> None:
    async with aiohttp.ClientSession(stack.api_url) as anonymous:
        async with anonymous.get("/healthz") as r:
            await r.read()
            assert r.status == 200
        for method, path in (("GET", "/v1/institutions"), ("POST", "/v1/inquiries"), ("GET", "/metrics"),
                             ("GET", "/v1/ops/pending-legs"), ("POST", "/v1/orders")):
            async with anonymous.request(method, path, json={}) as r:
                body = await r.json()
                assert r.status == 401 and body["error"] == "unauthenticated", (path, body)


async def test_expired_and_tampered_tokens_are_refused_and_audited(stack, api) -> None:
    expired = stack.token("OFFICER-OLD", CASE["court"], COURT_CODES[CASE["court"]], ["officer"], ttl_s=-10)
    header, payload, signature = stack.token("OFFICER-T", CASE["court"], "冀0108", ["officer"]).split(".")
    tampered = ".".join((header, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature))
    for token, reason in ((expired, "token expired"), (tampered, "invalid token")):
        async with aiohttp.ClientSession(stack.api_url, headers={"Authorization": f"Bearer {token}"}) as s, s.get("/v1/institutions") as r:
            assert r.status == 401 and (await r.json())["message"].startswith(reason)
    reasons = [a["reason"] for a in await audit(api) if a["status"] == 401]
    assert any(r == "token expired" for r in reasons) and any(r.startswith("invalid token") for r in reasons)


async def test_cross_court_access_is_refused_audited_and_changes_nothing(stack, api, population, credential) -> None:
    debtor = next(d for d in population.debtors if d.kind == "person")
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential, institutions=["bank-01"])) as r:
        accepted = await r.json()
    await wait_inquiry(api, accepted["location"])
    async with officer_session(stack, "OFFICER-B9", COURT_B, ("officer",)) as other:
        async with other.get(accepted["location"]) as r:
            assert r.status == 403 and (await r.json())["error"] == "forbidden"
        # B's officer may not open a case of court A, nor claim to be court A.
        async with other.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential)) as r:
            assert r.status == 403
        async with other.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential, court=COURT_B)) as r:
            assert r.status == 403  # the case number still says 冀0108
    mine = [a for a in await audit(api) if a["officer"] == "OFFICER-B9"]
    assert [a["status"] for a in mine] == [403, 403, 403]
    assert (await get_json(api, accepted["location"]))["progress"]["legs_total"] == 1  # untouched


async def test_wrong_role_is_refused(stack, api, population, credential) -> None:
    async with officer_session(stack, "OFFICER-A7", CASE["court"], ("officer",)) as plain:
        async with plain.get("/v1/ops/pending-legs") as r:
            assert r.status == 403
        async with plain.get("/metrics") as r:
            assert r.status == 403
        deduct = {"type": "deduct", "case_number": CASE["case_number"], "court": CASE["court"], "institution_id": "bank-01",
                  "asset": {"kind": "deposit", "id": "6222000000000000"}, "amount_fen": 1, "original_order_id": "x",
                  "enforcement_account": "13050161540800000001", "ruling_number": "r", "notice_number": "n",
                  "officer_credentials": [credential], "idempotency_key": "k" * 16}
        async with plain.post("/v1/orders", json=deduct) as r:
            assert r.status == 403 and "deduct role" in (await r.json())["message"]
        async with plain.post("/v1/orders/anything/approve") as r:
            assert r.status == 403 and "deduct role" in (await r.json())["message"]  # the route's role comes first
    assert sum(1 for a in await audit(api) if a["officer"] == "OFFICER-A7" and a["status"] == 403) == 4


async def test_per_officer_rate_limit_answers_429_with_retry_after(tmp_path) -> None:
    store = open_store(tmp_path / "g.sqlite3")
    directory = Directory.from_counts()
    authority = TokenAuthority(b"x" * 32)
    courts = Courts.built_in()
    desk = OrderDesk(store, directory, courts, 60, lambda: None)
    app = create_app(store, Intake(store.inquiries, store.cases, directory, 60, lambda: None), desk, directory, courts, authority,
                     RateLimiter(rate=1, burst=2))
    async with TestClient(TestServer(app)) as client:
        one = {"Authorization": "Bearer " + authority.issue("OFFICER-R", CASE["court"], "冀0108", ["officer"])}
        two = {"Authorization": "Bearer " + authority.issue("OFFICER-S", CASE["court"], "冀0108", ["officer"])}
        statuses = [(await client.get("/v1/institutions", headers=one)).status for _ in range(3)]
        assert statuses == [200, 200, 429]
        r = await client.get("/v1/institutions", headers=one)
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        assert (await client.get("/v1/institutions", headers=two)).status == 200  # per officer
    assert [entry.status for entry in store.access.recent()] == [429, 429]


def test_rate_limiter_refills() -> None:
    limiter = RateLimiter(rate=2, burst=2)
    assert [limiter.wait_s("o", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert limiter.wait_s("o", now=0.5) == 0.0
