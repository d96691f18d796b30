"""The institution-side contract a partner's test team works from: an OpenAPI document per kind
(current, complete, served unsigned), every validation problem in one answer, the signing test
vector, ``assetgw sign`` by hand, ``simulator-fault --url``, and one bank served by the team's own
implementation (a stand-in here) while the simulators serve the rest — through the real
connector, Kafka and gateway."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from schemas.signing import NonceCache, PartnerKeys, verify
from simulators.apps import APIS, build_app
from simulators.behaviour import Behaviours
from simulators.openapi import OUT, PATH, document, render
from tests.helpers import debtor_json, pick, post_json, run_cli, wait_inquiry

DOCS = Path(__file__).resolve().parent.parent / "docs" / "partners.md"

# The test vector of docs/partners.md#signing: anyone can check an implementation against it.
VECTOR_MASTER = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
VECTOR_KEY = "d5ac74e986f6ad9dedc82e303ea323d640c68e24e0a452e28d052fceb61294dc"  # bank-03's
VECTOR_BODY = b'{"request_id":"r-1"}'
VECTOR_CANONICAL = ("POST\n/bank-03/api/v1/deposit-inquiries\n"
                    "79c886d89bae7eec070f38df0ae8cb99eb87d0a5da3ed34dd8e0d4282e79cf6b\n"
                    "1764547200\n0123456789abcdef0123456789abcdef")
VECTOR_SIGNATURE = "a2e855bed05f8285d8f89c9c052513fcbd11be38a7d417b371b645718b04a369"


def test_exported_openapi_documents_are_current() -> None:
    for kind in APIS:
        path = OUT / f"{kind}.json"
        assert path.is_file() and path.read_bytes() == render(document(kind)), f"{path} is stale: run python -m simulators.openapi"
    assert {p.stem for p in OUT.glob("*.json")} == set(APIS), "stale files: run python -m simulators.openapi"


def test_every_partner_route_is_in_its_document(population) -> None:  # type: ignore[no-untyped-def]
    for kind in APIS:
        app = build_app(kind, population, Behaviours())
        served = {(r.method.lower(), r.resource.canonical) for r in app.router.routes()  # type: ignore[union-attr]
                  if r.method != "HEAD" and r.resource is not None and r.resource.canonical.startswith("/{inst}")}
        documented = {(m, p) for p, ops in document(kind)["paths"].items() for m in ops}
        assert served == documented, f"{kind}: served but undocumented {served - documented}, documented but not served {documented - served}"


def test_the_bank_document_names_every_field_and_its_allowed_values() -> None:
    schemas = document("bank")["components"]["schemas"]
    assert set(schemas["InquiryBody"]["required"]) == {"request_id", "case_number", "court", "notice_number",
                                                       "officer_credentials", "subject"}
    assert schemas["Subject"]["properties"]["id_type"]["enum"] == ["resident_id", "uscc"]
    assert "name" in schemas["Subject"]["required"]
    answer = document("bank")["paths"]["/{inst}/api/v1/deposit-inquiry-batches"]["post"]["responses"]["200"]["description"]
    assert "savings" in answer and "balance_fen" in answer
    assert {"order_id", "type", "asset", "served_at"} <= set(schemas["ControlOrder"]["required"])
    methods = {v["properties"]["method"]["const"] for v in document("payment")["components"]["schemas"]["PaymentRequest"]["oneOf"]}
    assert methods == {"court.wallet.query", "court.wallet.batch_query", "court.wallet.control", "court.wallet.control_status"}


def test_signing_test_vector() -> None:
    """Derivation and signature computed here with hashlib alone, as a partner would, and equal to
    the library's and to what docs/partners.md prints."""
    master = bytes.fromhex(VECTOR_MASTER)
    key = hmac.new(master, b"assetgw-partner-key:bank-03", hashlib.sha256).hexdigest()
    assert key == VECTOR_KEY
    body_hash = hashlib.sha256(VECTOR_BODY).hexdigest()
    assert VECTOR_CANONICAL.split("\n")[2] == body_hash
    assert hmac.new(bytes.fromhex(key), VECTOR_CANONICAL.encode(), hashlib.sha256).hexdigest() == VECTOR_SIGNATURE
    verify(PartnerKeys(master=master), "POST", "/bank-03/api/v1/deposit-inquiries", VECTOR_BODY,
           {"X-AssetGW-Key-Id": "bank-03", "X-AssetGW-Timestamp": "1764547200", "X-AssetGW-Nonce": "0123456789abcdef0123456789abcdef",
            "X-AssetGW-Signature": VECTOR_SIGNATURE}, now=1764547200, nonces=NonceCache())
    text = DOCS.read_text()
    for value in (VECTOR_MASTER, VECTOR_KEY, VECTOR_BODY.decode(), body_hash, VECTOR_SIGNATURE):
        assert value in text, f"docs/partners.md lacks the vector's {value}"


async def test_sign_cli_reproduces_the_vector_and_signs_a_live_request(stack, simulators, tmp_path: Path) -> None:
    url = "http://127.0.0.1:1/bank-03/api/v1/deposit-inquiries"
    code, out, err = await run_cli(stack, "sign", "POST", url, "--body", VECTOR_BODY.decode(), "--timestamp", "1764547200",
                                   "--nonce", "0123456789abcdef0123456789abcdef", "--json",
                                   env={"ASSETGW_PARTNER_MASTER_KEY": VECTOR_MASTER})
    signed = orjson.loads(out)
    assert code == 0 and signed["headers"]["X-AssetGW-Signature"] == VECTOR_SIGNATURE and signed["canonical"] == VECTOR_CANONICAL, err

    body = orjson.dumps({"request_id": "by-hand", "case_number": "(2025)冀0108执1号", "court": "石家庄市裕华区人民法院",
                         "notice_number": "N1", "officer_credentials": ["nobody"],
                         "subject": {"id_type": "resident_id", "id_number": "110101199003074477", "name": "张三"}})
    (tmp_path / "body.json").write_bytes(body)
    live = f"{simulators.url('bank')}/bank-03/api/v1/deposit-inquiries"
    code, out, err = await run_cli(stack, "sign", "POST", live, "--body-file", str(tmp_path / "body.json"))
    assert code == 0 and "curl -sS -X POST" in err and "signed text" in err, err
    headers = dict(line.split(": ", 1) for line in out.splitlines())
    async with aiohttp.ClientSession() as http, http.post(live, data=body, headers={**headers, "Content-Type": "application/json"}) as r:
        assert r.status == 403 and (await r.json())["error"] == "refused"  # past the signature: an unregistered credential


async def test_contract_served_unsigned_and_every_problem_at_once(stack, simulators) -> None:
    async with aiohttp.ClientSession() as http:
        for kind in APIS:
            async with http.get(simulators.url(kind) + PATH) as r:
                assert r.status == 200 and await r.json() == orjson.loads(render(document(kind)))
    status, answer = await simulators.send(simulators.signed("bank-02", "POST", "/bank-02/api/v1/deposit-inquiries",
                                                             {"subject": {"id_type": "passport"}}))
    fields = {e["field"] for e in answer["errors"]}
    assert status == 400 and {"request_id", "case_number", "court", "notice_number", "officer_credentials",
                              "subject.id_type", "subject.id_number", "subject.name"} <= fields, answer
    assert "subject.id_type" in answer["reason"] and "subject.name" in answer["reason"]
    status, answer = await simulators.send(simulators.signed("payment-01", "POST", "/payment-01/gateway", {
        "method": "court.wallet.query", "request_id": "r", "timestamp": "t", "biz_content": {"cert_type": "PASSPORT"}}))
    assert status == 200 and answer["code"] == "40002"
    for field in ("biz_content.cert_type", "biz_content.cert_no", "biz_content.name", "biz_content.case_number"):
        assert field in answer["sub_msg"], answer


async def test_simulator_fault_url_reaches_a_simulator_without_environment(stack, simulators, tmp_path: Path) -> None:
    nowhere = {"ASSETGW_SIM_URL_BANK": "http://127.0.0.1:1", "ASSETGW_DATA_DIR": str(tmp_path)}
    code, _, err = await run_cli(stack, "simulator-fault", "bank-04", env=nowhere)
    assert code == 1 and "--url" in err
    code, out, err = await run_cli(stack, "simulator-fault", "bank-04", "--url", simulators.url("bank"), env=nowhere)
    assert code == 0 and orjson.loads(out)["institution_id"] == "bank-04", err


# --- one bank served by the partner's own implementation -------------------------------------------

STAND_IN_ACCOUNT = "6222000000000000777"


def stand_in_bank(keys: PartnerKeys, seen: list[dict[str, Any]]) -> web.Application:
    """What a bank's team builds from bank.json: the batch inquiry, signed requests verified, one
    account for every customer; its event feed empty."""
    nonces = NonceCache()

    @web.middleware
    async def signed(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            verify(keys, request.method, request.raw_path, await request.read(), request.headers, now=time.time(),
                   nonces=nonces, institution_id=request.path.split("/")[1])
        except Exception as exc:  # noqa: BLE001 - any refusal is a 401, as the contract says
            return web.json_response({"error": "unauthenticated", "reason": str(exc)}, status=401)
        return await handler(request)

    async def batch(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        return web.json_response({"batch_id": body["batch_id"], "results": [
            {"request_id": s["request_id"], "customer_found": True, "accounts": [{
                "account_no": STAND_IN_ACCOUNT, "account_type": "savings", "currency": "CNY", "balance_fen": 12_345,
                "holders": [s["id_number"]], "protected": False, "protected_reason": None}]}
            for s in body["subjects"]]})

    async def events(request: web.Request) -> web.Response:
        return web.json_response({"events": [], "next": int(request.query.get("after", "0"))})

    app = web.Application(middlewares=[signed])
    app.router.add_post("/{inst}/api/v1/deposit-inquiry-batches", batch)
    app.router.add_get("/{inst}/events", events)
    return app


@pytest.mark.isolated
async def test_one_bank_served_by_its_own_implementation(stack, api, population, credential) -> None:
    seen: list[dict[str, Any]] = []
    runner = web.AppRunner(stand_in_bank(PartnerKeys(master=bytes.fromhex(stack.env["ASSETGW_PARTNER_MASTER_KEY"])), seen))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        stack.services["connector-bank"].env["ASSETGW_INSTITUTION_URL_BANK_03"] = f"http://127.0.0.1:{port}"
        stack.kill("connector-bank")
        await stack.restart("connector-bank")
        debtor = pick(population, lambda assets: any(a.kind == "deposit" and a.institution_id == "bank-01" for a in assets))
        case = f"(2025)冀0108执{9000 + port % 1000}号"
        status, accepted = await post_json(api, "/v1/inquiries", {
            "case_number": case, "court": "石家庄市裕华区人民法院", "amount_due_fen": 100_000, "costs_fen": 0,
            "notice_number": f"{case}-查", "officer_credentials": [credential], "debtors": [debtor_json(debtor)],
            "institutions": ["bank-01", "bank-03"]})
        assert status == 202, accepted
        inquiry = await wait_inquiry(api, accepted["location"])
        deposits = inquiry["reports"][0]["assets"].get("deposit", [])
        at_03 = [a for a in deposits if a["institution_id"] == "bank-03"]
        assert [a["account_no"] for a in at_03] == [STAND_IN_ACCOUNT], "bank-03 did not answer from the stand-in"
        assert any(a["institution_id"] == "bank-01" for a in deposits), "bank-01 should still be the simulator's"
        assert seen and {s["id_number"] for body in seen for s in body["subjects"]} == {debtor.id_number}
        assert all(body["case_number"] == case for body in seen)
    finally:
        await runner.cleanup()
