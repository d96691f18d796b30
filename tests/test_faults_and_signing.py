"""The signed partner link and fault injection, over real HTTP against ``serve``.

Signing: a signed query or control is served; unsigned, tampered, wrongly keyed, stale and
replayed requests get 401 with their reason, are counted at ``/admin/security`` and change no
ledger. Faults: each answers as it should (429 + Retry-After, 5xx, not JSON, cut JSON, reset,
hang, outage window), and a control order refused by any of them changes no ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest

from assetgw.ops.simulator_fault import FaultError, add_fault_command, apply_fault, run
from schemas.assets import DepositAccount, PaymentWallet, RealEstate
from schemas.signing import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_TIMESTAMP,
    MissingPartnerKeys,
    NonceCache,
    PartnerKeys,
    PartnerKeysError,
    SignatureError,
    canonical,
    institution_key,
    load_partner_keys,
    sign_headers,
    verify,
)
from simulators.behaviour import Behaviours
from simulators.cli import partner_keys_or_exit
from simulators.holdings import BENEFIT_ACCOUNTS
from simulators.latency import Latency
from simulators.population import Population
from simulators.server import DEFAULT_PORTS, serve
from tests.helpers import wait_for

COURT = "石家庄市裕华区人民法院"
CASE = "(2025)冀0108执4502号"

# --- the signing spec, no server ----------------------------------------------------------------


def test_canonical_text_and_signature_are_as_specified() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    text = canonical("post", "/bank-01/x?y=1", body, 1700000000, "ab" * 8)
    assert text == "\n".join(["POST", "/bank-01/x?y=1", hashlib.sha256(body).hexdigest(), "1700000000", "ab" * 8])
    assert canonical("GET", "/p", b"", "1", "n").split("\n")[2] == hashlib.sha256(b"").hexdigest()
    keys = PartnerKeys(master=secrets.token_bytes(32))
    headers = sign_headers(keys, "bank-01", "post", "/bank-01/x?y=1", body, now=1700000000.9, nonce="ab" * 8)
    assert headers == {
        "X-AssetGW-Key-Id": "bank-01", "X-AssetGW-Timestamp": "1700000000", "X-AssetGW-Nonce": "ab" * 8,
        "X-AssetGW-Signature": hmac.new(keys.key_for("bank-01"), text.encode(), hashlib.sha256).hexdigest(),
    }
    with pytest.raises(ValueError):
        sign_headers(keys, "bank-01", "GET", "/", b"", nonce="short")


def test_keys_are_per_institution_and_loaded_from_env(tmp_path: Any) -> None:
    master = secrets.token_bytes(32)
    assert institution_key(master, "bank-01") != institution_key(master, "bank-02")
    assert PartnerKeys(master=master).key_for("bank-01") == institution_key(master, "bank-01")
    assert master.hex() not in repr(PartnerKeys(master=master))
    assert load_partner_keys({"ASSETGW_PARTNER_MASTER_KEY": master.hex()}).key_for("land-02") == institution_key(master, "land-02")
    listed = secrets.token_bytes(32)
    path = tmp_path / "keys.json"
    path.write_bytes(orjson.dumps({"bank-01": listed.hex()}))
    # The file wins over the master key; an institution it does not list has no key.
    keys = load_partner_keys({"ASSETGW_PARTNER_KEYS_FILE": str(path), "ASSETGW_PARTNER_MASTER_KEY": master.hex()})
    assert keys.key_for("bank-01") == listed
    with pytest.raises(KeyError):
        keys.key_for("bank-02")
    with pytest.raises(MissingPartnerKeys, match=r"ASSETGW_PARTNER_KEYS_FILE.*ASSETGW_PARTNER_MASTER_KEY"):
        load_partner_keys({})
    for bad in ({"ASSETGW_PARTNER_MASTER_KEY": "zz"}, {"ASSETGW_PARTNER_MASTER_KEY": "abcd"},
                {"ASSETGW_PARTNER_KEYS_FILE": str(tmp_path / "missing.json")}):
        with pytest.raises(PartnerKeysError):
            load_partner_keys(bad)


def test_verify_reasons_skew_and_nonce_window() -> None:
    keys, now = PartnerKeys(master=secrets.token_bytes(32)), 1_700_000_000.0
    body = b"{}"

    def check(headers: Mapping[str, str], nonces: NonceCache | None = None, at: float = now, **kw: Any) -> str | None:
        try:
            verify(keys, "POST", "/bank-01/x", body, headers, now=at, nonces=NonceCache() if nonces is None else nonces, **kw)
        except SignatureError as exc:
            return exc.reason
        return None

    good = sign_headers(keys, "bank-01", "POST", "/bank-01/x", body, now=now)
    assert check(good) is None
    assert check({k.lower(): v for k, v in good.items()}) is None  # header names are case-insensitive
    assert check({k: v for k, v in good.items() if k != HEADER_NONCE}) == "unsigned"
    assert check(good, institution_id="bank-02") == "key id does not match the institution"
    assert check(sign_headers(keys, "bank-01", "POST", "/bank-01/x?q=1", body, now=now)) == "bad signature"
    assert check({**good, HEADER_TIMESTAMP: "soon"}) == "bad signature"
    assert check(good, at=now + 300) is None and check(good, at=now + 301) == "stale"
    assert check(good, at=now - 301) == "stale"
    listed = PartnerKeys(listed={"bank-01": secrets.token_bytes(32)})
    with pytest.raises(SignatureError, match="unknown key id"):
        verify(listed, "POST", "/x", body, {**good, HEADER_KEY_ID: "bank-09"}, now=now, nonces=NonceCache())
    nonces = NonceCache(max_skew_s=300)
    assert check(good, nonces) is None and check(good, nonces) == "replayed"
    assert len(nonces) == 1
    nonces.add("bank-01", "cd" * 8, now + 601)  # 2 x skew later the first nonce is forgotten
    assert len(nonces) == 1


def test_simulator_refuses_to_start_without_keys_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ASSETGW_PARTNER_KEYS_FILE", "ASSETGW_PARTNER_MASTER_KEY", "ASSETGW_INSECURE_PARTNER_LINK"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit, match=r"ASSETGW_PARTNER_MASTER_KEY.*ASSETGW_INSECURE_PARTNER_LINK=1"):
        partner_keys_or_exit()
    monkeypatch.setenv("ASSETGW_INSECURE_PARTNER_LINK", "1")
    assert partner_keys_or_exit() is None
    monkeypatch.setenv("ASSETGW_PARTNER_MASTER_KEY", "not hex")  # configured wrongly: never silently insecure
    with pytest.raises(SystemExit, match="not hex"):
        partner_keys_or_exit()
    monkeypatch.setenv("ASSETGW_PARTNER_MASTER_KEY", secrets.token_hex(32))
    assert isinstance(partner_keys_or_exit(), PartnerKeys)


# --- a signed simulator over HTTP ---------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    raw: bytes

    def json(self) -> Any:
        return orjson.loads(self.raw)


@dataclass
class Sim:
    population: Population
    http: aiohttp.ClientSession
    ports: dict[str, int]
    keys: PartnerKeys
    credential: str

    def url(self, kind: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[kind]}{path}"

    async def raw(self, kind: str, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None,
                  timeout: float | None = None) -> Answer:
        headers = {"Content-Type": "application/json", **(headers or {})}
        kw: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=timeout)} if timeout else {}
        async with self.http.request(method, self.url(kind, path), data=body, headers=headers, **kw) as r:
            return Answer(r.status, r.headers, await r.read())

    async def send(self, kind: str, method: str, path: str, payload: Any = None, *, timeout: float | None = None) -> Answer:
        """A correctly signed request, as the connectors send."""
        body = b"" if payload is None else orjson.dumps(payload)
        headers = sign_headers(self.keys, path.split("/")[1], method, path, body)
        return await self.raw(kind, method, path, body, headers, timeout)

    async def admin(self, method: str, kind: str, path: str, payload: Any = None, status: int = 200) -> Any:
        async with self.http.request(method, self.url(kind, path), json=payload) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def behave(self, kind: str, inst: str, **patch: Any) -> dict[str, Any]:
        return await self.admin("PUT", kind, f"/admin/institutions/{inst}/behaviour", patch)

    async def reset(self, kind: str, inst: str) -> None:
        await self.admin("DELETE", kind, f"/admin/institutions/{inst}/behaviour")

    async def ledger(self, kind: str, inst: str, asset_id: str) -> dict[str, Any]:
        return await self.admin("GET", kind, f"/admin/institutions/{inst}/assets/{asset_id}/ledger")

    async def refused(self, kind: str) -> dict[str, int]:
        return (await self.admin("GET", kind, "/admin/security"))["refused"]


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.generate(persons=1_000, companies=100)


@pytest.fixture(scope="module")
async def sim(population: Population) -> AsyncIterator[Sim]:
    ports = dict.fromkeys(DEFAULT_PORTS, 0)
    ready = asyncio.Event()
    keys = PartnerKeys(master=secrets.token_bytes(32))  # made per run: no secret in the code
    task = asyncio.create_task(serve(list(ports), "127.0.0.1", ports, population,
                                     Behaviours(default_latency=Latency(0, 0)), ready, partner_keys=keys))
    await asyncio.wait_for(ready.wait(), 10)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        yield Sim(population, http, ports, keys, population.officer_credentials[0])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def accounts(population: Population, cls: type, n: int) -> list[tuple[Any, str]]:
    """``n`` distinct assets of ``cls`` worth freezing, each with a holder's id number."""
    out: list[tuple[Any, str]] = []
    for d in population.debtors:
        for a in population.assets_of(d.id_number):
            if isinstance(a, cls) and not getattr(a, "protected", False) and a.value_fen >= 10_000:
                out.append((a, d.id_number))
                if len(out) == n:
                    return out
    raise AssertionError(f"fewer than {n} {cls.__name__}s in the population")


def freeze(asset: Any, holder: str, credential: str, amount_fen: int | None = 1_000) -> dict[str, Any]:
    return {
        "order_id": uuid.uuid4().hex, "type": "freeze", "court": COURT, "case_number": CASE,
        "asset": {"kind": asset.kind, "id": asset.asset_id}, "debtor_id_number": holder,
        "amount_fen": amount_fen, "term_days": 30, "ruling_number": f"{CASE}之一", "notice_number": f"{CASE}-冻",
        "officer_credentials": [credential], "served_at": "2025-11-22T10:00:00+08:00",
    }


def inquiry(population: Population, inst: str, credential: str) -> dict[str, Any]:
    d = population.find(population.holders_at(inst)[0])
    assert d is not None
    return {"request_id": uuid.uuid4().hex, "case_number": CASE, "court": COURT, "notice_number": f"{CASE}-查",
            "officer_credentials": [credential],
            "subject": {"id_type": "resident_id" if d.kind == "person" else "uscc", "id_number": d.id_number, "name": d.name}}


def envelope(method: str, biz: dict[str, Any]) -> dict[str, Any]:
    return {"method": method, "request_id": uuid.uuid4().hex, "timestamp": "2025-11-22T10:00:00+08:00", "biz_content": biz}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


async def test_signed_query_and_control_are_served_and_every_forgery_is_refused(sim: Sim) -> None:
    path = "/bank-01/api/v1/deposit-inquiries"
    assert (await sim.send("bank", "POST", path, inquiry(sim.population, "bank-01", sim.credential))).status == 200
    # The query string is signed exactly as sent.
    assert (await sim.send("bank", "POST", path + "?trace=1", inquiry(sim.population, "bank-01", sim.credential))).status == 200

    (acct, holder), = accounts(sim.population, DepositAccount, 1)
    inst, cpath = acct.institution_id, f"/{acct.institution_id}/controls"
    applied = await sim.send("bank", "POST", cpath, freeze(acct, holder, sim.credential))
    assert applied.status == 200 and applied.json()["status"] == "applied"
    ledger = await sim.ledger("bank", inst, acct.account_no)
    before = await sim.refused("bank")

    order = orjson.dumps(freeze(acct, holder, sim.credential, amount_fen=2_000))
    signed = sign_headers(sim.keys, inst, "POST", cpath, order)
    other_keys = PartnerKeys(master=secrets.token_bytes(32))
    attempts = {
        "unsigned": {},
        "tampered body": signed,  # sent with another body below
        "wrong key": sign_headers(other_keys, inst, "POST", cpath, order),
        "stale": sign_headers(sim.keys, inst, "POST", cpath, order, now=time.time() - 400),
        "other institution's key id": sign_headers(sim.keys, "bank-09" if inst != "bank-09" else "bank-08", "POST", cpath, order),
    }
    reasons = {}
    for what, headers in attempts.items():
        body = order.replace(b'"amount_fen":2000', b'"amount_fen":9000') if what == "tampered body" else order
        answer = await sim.raw("bank", "POST", cpath, body, headers)
        assert answer.status == 401, what
        assert answer.json()["error"] == "unauthenticated"
        reasons[what] = answer.json()["reason"]
    assert reasons == {"unsigned": "unsigned", "tampered body": "bad signature", "wrong key": "bad signature",
                       "stale": "stale", "other institution's key id": "key id does not match the institution"}

    # A captured, correctly signed request works once; its replay is refused.
    fresh = orjson.dumps(freeze(acct, holder, sim.credential, amount_fen=500))
    headers = sign_headers(sim.keys, inst, "POST", cpath, fresh)
    assert (await sim.raw("bank", "POST", cpath, fresh, headers)).status == 200
    ledger = await sim.ledger("bank", inst, acct.account_no)
    replay = await sim.raw("bank", "POST", cpath, fresh, headers)
    assert (replay.status, replay.json()["reason"]) == (401, "replayed")

    assert await sim.ledger("bank", inst, acct.account_no) == ledger  # no refused attempt moved anything
    assert delta(await sim.refused("bank"), before) == {
        "unsigned": 1, "bad signature": 2, "stale": 1, "key id does not match the institution": 1, "replayed": 1}


async def test_every_kind_verifies_and_admin_routes_stay_open(sim: Sim) -> None:
    (wallet, holder), = accounts(sim.population, PaymentWallet, 1)
    pay = f"/{wallet.institution_id}/gateway"
    control = envelope("court.wallet.control", freeze(wallet, holder, sim.credential, amount_fen=100))
    ledger = await sim.ledger("payment", wallet.institution_id, wallet.wallet_id)
    unsigned = await sim.raw("payment", "POST", pay, orjson.dumps(control))
    assert (unsigned.status, unsigned.json()) == (401, {"error": "unauthenticated", "reason": "unsigned"})
    assert await sim.ledger("payment", wallet.institution_id, wallet.wallet_id) == ledger
    assert (await sim.send("payment", "POST", pay, control)).json()["code"] == "10000"

    ticket = await sim.send("land", "POST", "/land-01/requests", inquiry(sim.population, "land-01", sim.credential))
    assert ticket.status == 202
    poll = f"/land-01/requests/{ticket.json()['ticket']}"
    assert (await sim.raw("land", "GET", poll)).status == 401
    assert (await sim.send("land", "GET", poll)).status == 200
    batch = {"batch_id": "b1", "court": COURT, "notice_number": "n", "officer_credentials": [sim.credential],
             "items": [{"item_id": "1", "case_number": CASE, "id_number": "x", "name": "x"}]}
    assert (await sim.raw("vehicle", "POST", "/vehicle-01/batch-queries", orjson.dumps(batch))).status == 401
    assert (await sim.send("vehicle", "POST", "/vehicle-01/batch-queries", batch)).status == 200
    # Unrouted institution paths are refused too, before any 404 tells what exists.
    assert (await sim.raw("bank", "GET", "/bank-01/nothing-here")).status == 401
    assert (await sim.admin("GET", "bank", "/healthz"))["ok"] is True
    assert (await sim.admin("GET", "bank", "/admin/security"))["verifying"] is True


async def test_batch_endpoints_are_signed_like_the_rest(sim: Sim) -> None:
    def batch(inst: str) -> dict[str, Any]:
        one = inquiry(sim.population, inst, sim.credential)
        return {**{k: v for k, v in one.items() if k not in ("request_id", "subject")}, "batch_id": uuid.uuid4().hex,
                "subjects": [{"request_id": "r0", **one["subject"]}]}

    subject = batch("payment-01")["subjects"][0]
    wallet_batch = envelope("court.wallet.batch_query", {
        "case_number": CASE, "court": COURT, "notice_number": "n", "officer_credentials": [sim.credential],
        "subjects": [{"request_id": "r0", "cert_type": "ID_CARD" if subject["id_type"] == "resident_id" else "USCC",
                      "cert_no": subject["id_number"], "name": subject["name"]}]})
    fund = batch("fund-01")
    fund_query = {"head": {"jylsh": uuid.uuid4().hex, "jydm": "CX01", "fydm": COURT},
                  "body": {"ah": CASE, "tzsh": "n", "zfzh": [sim.credential],
                           "cxdx": [{"xh": "r0", "zjlx": "A", "zjhm": s["id_number"], "xm": s["name"]} for s in fund["subjects"]]}}
    court = batch("court-01")
    court_search = {"search_no": uuid.uuid4().hex, "requesting_court": COURT, "requesting_case": CASE, "notice_number": "n",
                    "officer_credentials": [sim.credential],
                    "parties": [{"ref": "r0", "party_type": "natural_person" if s["id_type"] == "resident_id" else "legal_person",
                                 "id_number": s["id_number"], "name": s["name"]} for s in court["subjects"]]}
    calls = [("bank", "/bank-01/api/v1/deposit-inquiry-batches", batch("bank-01"), 200),
             ("land", "/land-01/request-batches", batch("land-01"), 202),
             ("payment", "/payment-01/gateway", wallet_batch, 200),
             ("equity", "/equity-01/v2/shareholder-searches", batch("equity-01"), 201),
             ("fund", "/fund-01/exchange", fund_query, 200),
             ("court", "/court-01/association/v1/party-searches", court_search, 200)]
    before = {kind: await sim.refused(kind) for kind, *_ in calls}
    for kind, path, payload, ok in calls:
        unsigned = await sim.raw(kind, "POST", path, orjson.dumps(payload))
        assert (unsigned.status, unsigned.json()) == (401, {"error": "unauthenticated", "reason": "unsigned"}), path
        answer = await sim.send(kind, "POST", path, payload)
        assert answer.status == ok, (path, answer)
        if kind == "payment":
            assert answer.json()["code"] == "10000" and answer.json()["data"]["results"][0]["code"] == "10000"
        if kind == "land":
            poll = f"/land-01/request-batches/{answer.json()['ticket']}"
            assert (await sim.raw("land", "GET", poll)).status == 401
            assert (await sim.send("land", "GET", poll)).status == 200
        if kind == "equity":
            page = f"/equity-01/v2/shareholder-searches/{answer.json()['search_id']}?page=1"
            assert (await sim.raw("equity", "GET", page)).status == 401
            assert (await sim.send("equity", "GET", page)).json()["rows"][0]["request_id"] == "r0"
        if kind == "fund":
            assert answer.json()["head"]["fhdm"] == "0000" and answer.json()["body"]["cxjg"][0]["cxzt"] == "1"
        if kind == "court":
            assert answer.json()["hits"][0]["ref"] == "r0" and answer.json()["hits"][0]["role"] == "申请执行人"
    for kind, *_ in calls:
        assert delta(await sim.refused(kind), before[kind]) == {"unsigned": 2 if kind in ("land", "equity") else 1}, kind


async def test_fund_centres_refuse_every_control_with_the_legal_reason(sim: Sim) -> None:
    """Asked anyway (the gateway's desk already refuses), a centre refuses a freeze or deduction
    of a provident-fund or social-insurance account, saying why in law; no ledger exists for it."""
    for fund_type, inst in (("housing_provident_fund", "fund-01"), ("social_insurance", "fund-02")):
        holder = sim.population.holders_at(inst)[0]
        [account] = sim.population.assets_at(inst, holder)
        assert account.fund_type == fund_type  # type: ignore[union-attr]
        for order_type in ("freeze", "deduct"):
            order = {**freeze(account, holder, sim.credential), "type": order_type, "original_freeze_id": "f1",
                     "enforcement_account": "1234567890"}
            answer = await sim.send("fund", "POST", f"/{inst}/exchange",
                                    {"head": {"jylsh": order["order_id"], "jydm": "KZ01", "fydm": COURT}, "body": order})
            record = answer.json()["body"]
            assert answer.json()["head"]["fhdm"] == "0000" and record["status"] == "refused", record
            assert record["reason"] == f"不予协助：{BENEFIT_ACCOUNTS[fund_type]}"
    unknown = await sim.send("fund", "POST", "/fund-01/exchange", {"head": {"jylsh": "x", "jydm": "ZZ99"}, "body": {}})
    assert unknown.json()["head"]["fhdm"] == "1002"
    bad = await sim.send("fund", "POST", "/fund-01/exchange", {"head": {"jylsh": "x", "jydm": "CX01"}, "body": {"ah": CASE}})
    assert bad.status == 400 and "tzsh" in bad.json()["reason"]


# --- faults ---------------------------------------------------------------------------------------


async def test_each_fault_answers_as_it_should(sim: Sim) -> None:
    inst, path = "bank-02", "/bank-02/api/v1/deposit-inquiries"

    async def ask(**kw: Any) -> Answer:
        return await sim.send("bank", "POST", path, inquiry(sim.population, inst, sim.credential), **kw)

    try:
        state = await sim.behave("bank", inst, throttle_rate=1, retry_after_s=2, latency="300:300")
        assert (state["throttle_rate"], state["retry_after_s"]) == (1.0, 2.0)
        started = time.monotonic()
        answer = await ask()
        assert (answer.status, answer.headers["Retry-After"]) == (429, "2")
        assert time.monotonic() - started < 0.25  # a front end throttles at once, no back-end latency

        await sim.behave("bank", inst, throttle_rate=0, error_rate=1, error_status=500, latency="0")
        answer = await ask()
        assert (answer.status, answer.json()) == (500, {"error": "unavailable"})

        await sim.behave("bank", inst, error_rate=0, malformed_rate=1)
        answer = await ask()
        assert answer.status == 200
        with pytest.raises(orjson.JSONDecodeError):
            answer.json()

        await sim.behave("bank", inst, malformed_rate=0, truncated_rate=1)
        answer = await ask()
        assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/json")
        assert answer.raw.startswith(b"{")
        with pytest.raises(orjson.JSONDecodeError):
            answer.json()

        await sim.behave("bank", inst, truncated_rate=0, reset_rate=1)
        with pytest.raises(aiohttp.ClientConnectionError):
            await ask()

        await sim.behave("bank", inst, reset_rate=0, hang=True)
        with pytest.raises(asyncio.TimeoutError):
            await ask(timeout=0.3)

        await sim.behave("bank", inst, hang=False, latency="150:150")
        started = time.monotonic()
        assert (await ask()).status == 200
        assert time.monotonic() - started >= 0.14  # latency still applies to successful answers
    finally:
        await sim.reset("bank", inst)
    assert (await ask()).status == 200

    # The payment app throttles with HTTP 429 as well, before its business codes.
    d = sim.population.find(sim.population.holders_at("payment-02")[0])
    assert d is not None
    query = envelope("court.wallet.query", {"case_number": CASE, "court": COURT, "notice_number": "n",
                                            "officer_credentials": [sim.credential], "cert_type": "ID_CARD",
                                            "cert_no": d.id_number, "name": d.name})
    try:
        await sim.behave("payment", "payment-02", throttle_rate=1)
        answer = await sim.send("payment", "POST", "/payment-02/gateway", query)
        assert (answer.status, answer.headers["Retry-After"]) == (429, "1")
    finally:
        await sim.reset("payment", "payment-02")


async def test_outage_window_active_then_over(sim: Sim) -> None:
    inst, path = "bank-03", "/bank-03/api/v1/deposit-inquiries"

    async def status() -> int:
        return (await sim.send("bank", "POST", path, inquiry(sim.population, inst, sim.credential))).status

    now = datetime.now(UTC)
    past = {"start": (now - timedelta(hours=2)).isoformat(), "end": (now - timedelta(hours=1)).isoformat()}
    later = {"start": (now + timedelta(hours=1)).isoformat(), "end": (now + timedelta(hours=2)).isoformat()}
    try:
        state = await sim.behave("bank", inst, outages=[past, later])
        assert [w["active"] for w in state["outages"]] == [False]  # the expired window is dropped
        assert await status() == 200
        state = await sim.behave("bank", inst, outages=[{"in_s": 0, "for_s": 1.0}])
        assert state["outages"][0]["active"] is True
        assert await status() == 503

        async def over() -> bool:
            return await status() == 200

        await wait_for(over, 10, interval=0.1, what="the one-second outage to end")
        assert (await sim.admin("GET", "bank", f"/admin/institutions/{inst}/behaviour"))["outages"] == []
        await sim.behave("bank", inst, outages=[{"in_s": 0, "for_s": 30}], outage_mode="reset")
        with pytest.raises(aiohttp.ClientConnectionError):
            await status()
    finally:
        await sim.reset("bank", inst)
    assert await status() == 200


async def test_control_refused_by_any_fault_changes_no_ledger(sim: Sim) -> None:
    acct, holder = accounts(sim.population, DepositAccount, 3)[2]  # not the signing test's account
    (unit, owner), = accounts(sim.population, RealEstate, 1)
    wallet, w_holder = accounts(sim.population, PaymentWallet, 2)[1]
    targets = [
        ("bank", acct.institution_id, acct.account_no, f"/{acct.institution_id}/controls", freeze(acct, holder, sim.credential)),
        ("land", unit.institution_id, unit.unit_no, f"/{unit.institution_id}/controls", freeze(unit, owner, sim.credential, None)),
        ("payment", wallet.institution_id, wallet.wallet_id, f"/{wallet.institution_id}/gateway",
         envelope("court.wallet.control", freeze(wallet, w_holder, sim.credential, amount_fen=100))),
    ]
    faults = [{"throttle_rate": 1}, {"error_rate": 1}, {"malformed_rate": 1}, {"truncated_rate": 1},
              {"reset_rate": 1}, {"outages": [{"in_s": 0, "for_s": 30}]}]
    for kind, inst, asset_id, path, order in targets:
        untouched = await sim.ledger(kind, inst, asset_id)
        try:
            for fault in faults:
                await sim.reset(kind, inst)
                await sim.behave(kind, inst, **fault)
                try:
                    answer = await sim.send(kind, "POST", path, order)
                except aiohttp.ClientConnectionError:
                    continue  # the reset: no answer at all
                applied = answer.status == 200 and isinstance(body := _maybe_json(answer.raw), dict) and (
                    body.get("status") == "applied" or body.get("code") == "10000")
                assert not applied, (kind, fault, answer)
                assert await sim.ledger(kind, inst, asset_id) == untouched, (kind, fault)
        finally:
            await sim.reset(kind, inst)
        # The same order, once the institution behaves, is new to it: nothing was remembered.
        answer = (await sim.send(kind, "POST", path, order)).json()
        record = answer["data"] if kind == "payment" else answer
        assert (record["status"], record["duplicate"]) == ("applied", False), (kind, answer)


def _maybe_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


async def test_behaviour_validation_names_the_field(sim: Sim) -> None:
    cases = {
        "throttle_rate": {"throttle_rate": 2}, "retry_after_s": {"retry_after_s": -1},
        "malformed_rate": {"malformed_rate": "often"}, "outages[0]": {"outages": [{"in_s": 1}]},
        "outages[1].end": {"outages": [{"in_s": 1, "for_s": 1}, {"start": "2030-01-01T00:00:00Z", "end": "soon"}]},
        "outage_mode": {"outage_mode": "flaky"}, "must not exceed 1": {"error_rate": 0.6, "reset_rate": 0.6},
    }
    for field, patch in cases.items():
        answer = await sim.admin("PUT", "bank", "/admin/institutions/bank-04/behaviour", patch, status=400)
        assert field in answer["reason"], (patch, answer)
    assert (await sim.admin("GET", "bank", "/admin/institutions/bank-04/behaviour"))["error_rate"] == 0.0


# --- the CLI --------------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="assetgw")
    add_fault_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["simulator-fault", *argv])


async def test_fault_cli_applies_shows_and_resets(sim: Sim, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSETGW_SIM_URL_BANK", sim.url("bank", ""))
    try:
        state = await apply_fault(parse("bank-05", "--latency", "20:200", "--throttle-rate", "0.25", "--retry-after", "3",
                                        "--error-rate", "0.1", "--error-status", "502", "--reset-rate", "0.05",
                                        "--outage", "60:30", "--hang"))
        assert {k: state[k] for k in ("institution_id", "latency", "throttle_rate", "retry_after_s", "error_rate",
                                      "error_status", "reset_rate", "hang")} == {
            "institution_id": "bank-05", "latency": "20:200", "throttle_rate": 0.25, "retry_after_s": 3.0,
            "error_rate": 0.1, "error_status": 502, "reset_rate": 0.05, "hang": True}
        assert [w["active"] for w in state["outages"]] == [False]
        assert (await apply_fault(parse("bank-05", "--show"))) == state
        assert (await apply_fault(parse("bank-05", "--no-hang")))["hang"] is False
        with pytest.raises(FaultError, match="throttle_rate"):
            await apply_fault(parse("bank-05", "--throttle-rate", "2"))
        with pytest.raises(FaultError, match="unknown institution"):
            await apply_fault(parse("nobank-1", "--show"))
        with pytest.raises(SystemExit):
            parse("bank-05", "--outage", "soon")
        # The synchronous entry point prints the behaviour, or exits non-zero with the reason.
        await asyncio.to_thread(run, parse("bank-05", "--reset-behaviour", "--malformed-rate", "0.5"))
        printed = orjson.loads(capsys.readouterr().out)
        assert (printed["malformed_rate"], printed["throttle_rate"], printed["latency"]) == (0.5, 0.0, "0:0")
    finally:
        await sim.reset("bank", "bank-05")
    monkeypatch.setenv("ASSETGW_SIM_URL_BANK", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(SystemExit) as exit_:
        await asyncio.to_thread(run, parse("bank-05", "--show"))
    assert "cannot reach the bank simulator" in str(exit_.value.code)
