"""Simulators: a deterministic, valid, skewed population, and four institution APIs that answer
exactly the ground truth over real HTTP, with refusal, error injection, hanging and polling."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors.contract.base import Found, NotFound, Refused
from connectors.contract.transport import HttpTransport
from connectors.kinds.bank import BankConnector
from connectors.kinds.court import CourtConnector
from connectors.kinds.equity import MarketRegulatorConnector
from connectors.kinds.fund import FundCentreConnector
from connectors.kinds.land import LandRegistryConnector
from connectors.kinds.payment import PaymentAppConnector
from connectors.kinds.vehicle import VehicleOfficeConnector
from schemas.assets import DepositAccount, PaymentWallet, RealEstate, Vehicle
from schemas.debtor import Debtor
from schemas.directory import Directory
from schemas.identifiers import check_bank_card, check_resident_id, check_uscc
from schemas.messages import LegBatch, LegItem
from simulators.behaviour import Behaviour, Behaviours
from simulators.holdings import BENEFIT_ACCOUNTS
from simulators.latency import Latency
from simulators.population import DebtorRecord, Population
from simulators.server import DEFAULT_PORTS, serve
from tests.helpers import wait_for

CASE = "(2025)冀0108执4502号"
COURT = "石家庄市裕华区人民法院"
NOTICE = "(2025)冀0108执4502号-协查-1"
UNREGISTERED = "ZF00000000-NOPE"


@pytest.fixture(scope="session")
def population() -> Population:
    return Population.generate()


@dataclass
class Sim:
    population: Population
    http: aiohttp.ClientSession
    ports: dict[str, int]
    credential: str

    def url(self, kind: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[kind]}{path}"

    def holders(self, inst: str, n: int = 3) -> list[DebtorRecord]:
        """A few holders at ``inst``, people and organisations both when there are any."""
        ids = self.population.holders_at(inst)
        people = [i for i in ids if self.population.find(i).kind == "person"][: n - 1]
        orgs = [i for i in ids if self.population.find(i).kind == "organisation"][:1]
        return [self.population.find(i) for i in people + orgs]  # type: ignore[misc]

    def non_holder(self, inst: str) -> DebtorRecord:
        return next(d for d in self.population.debtors if d.kind == "person" and not self.population.is_customer(inst, d.id_number))

    async def behave(self, kind: str, inst: str, **patch: Any) -> dict[str, Any]:
        async with self.http.put(self.url(kind, f"/admin/institutions/{inst}/behaviour"), json=patch) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def reset(self, kind: str, inst: str) -> None:
        async with self.http.delete(self.url(kind, f"/admin/institutions/{inst}/behaviour")) as r:
            assert r.status == 200


@pytest.fixture(scope="session")
async def sim(population: Population) -> AsyncIterator[Sim]:
    ports = dict.fromkeys(DEFAULT_PORTS, 0)
    ready = asyncio.Event()
    behaviours = Behaviours(default_latency=Latency(0, 0))
    task = asyncio.create_task(serve(list(ports), "127.0.0.1", ports, population, behaviours, ready))
    await asyncio.wait_for(ready.wait(), 10)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        yield Sim(population, http, ports, population.officer_credentials[7])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def subject(d: DebtorRecord) -> dict[str, str]:
    return {"id_type": "resident_id" if d.kind == "person" else "uscc", "id_number": d.id_number, "name": d.name}


def inquiry(d: DebtorRecord, credential: str) -> dict[str, Any]:
    return {
        "request_id": uuid.uuid4().hex, "case_number": CASE, "court": COURT, "notice_number": NOTICE,
        "officer_credentials": [credential], "subject": subject(d),
    }


# --- population ---------------------------------------------------------------------------------


def _snapshot(p: Population) -> tuple[list[DebtorRecord], list[list[Any]], list[str]]:
    return p.debtors, [p.assets_of(d.id_number) for d in p.debtors], p.officer_credentials


def test_generation_is_deterministic_and_fast(population: Population) -> None:
    timings = []
    for _ in range(2):
        # CPU time, not wall time: the budget is ours, other processes on the box are not.
        started = time.process_time()
        again = Population.generate()
        timings.append(time.process_time() - started)
        assert _snapshot(again) == _snapshot(population)
    assert min(timings) < 2.0, timings
    assert len(population.debtors) == 11_000
    other = Population.generate(seed=7, persons=300, companies=30)
    assert other.debtors != population.debtors[:330]


def test_identifiers_are_valid_and_unique(population: Population) -> None:
    ids = [d.id_number for d in population.debtors]
    assert len(set(ids)) == len(ids)
    for d in population.debtors:
        if d.kind == "person":
            assert check_resident_id(d.id_number) == d.id_number
            assert 1950 <= int(d.id_number[6:10]) <= 2004
            assert 2 <= len(d.name) <= 3
        else:
            assert check_uscc(d.id_number) == d.id_number and d.id_number.startswith("91")
            assert d.name.endswith("公司")
        assert population.find(d.id_number) is d
    assert population.find("110101190001010000") is None

    assets = [a for d in population.debtors for a in population.assets_of(d.id_number)]
    accounts = [a for a in assets if isinstance(a, DepositAccount)]
    for a in accounts:
        assert check_bank_card(a.account_no) == a.account_no and 16 <= len(a.account_no) <= 19
    assert len({a.account_no for a in accounts}) == len(accounts)
    for u in (a for a in assets if isinstance(a, RealEstate)):
        assert re.fullmatch(r"\d{12}GB\d{5}F\d{8}", u.unit_no)
        assert re.fullmatch(r"冀\(20\d\d\)\w+市不动产权第\d{7}号", u.certificate_no)
        assert u.floor_area_dm2 > 0 and u.value_fen > 0
    vehicles = [a for a in assets if isinstance(a, Vehicle)]
    for v in vehicles:
        assert re.fullmatch(r"[京津冀鲁豫][A-Z][0-9A-HJ-NP-Z]{5}", v.plate)
        assert re.fullmatch(r"[0-9A-HJ-NPR-Z]{17}", v.vin)
        assert v.share_percent == 100 and not v.co_owners
    assert len({v.plate for v in vehicles}) == len(vehicles)
    creds = population.officer_credentials
    assert len(creds) == len(set(creds)) == 100 and all(re.fullmatch(r"ZF\d{8}", c) for c in creds)


def test_population_is_skewed_like_enforcement(population: Population) -> None:
    people = [d for d in population.debtors if d.kind == "person"]
    empty = sum(1 for d in people if not population.assets_of(d.id_number)) / len(people)
    assert 0.30 <= empty <= 0.50
    owning = Counter(a.kind for d in people for a in {x.kind: x for x in population.assets_of(d.id_number)}.values())
    assert 0.15 <= owning["real_estate"] / len(people) <= 0.35
    assert 0.12 <= owning["vehicle"] / len(people) <= 0.30
    assert 0.45 <= owning["wallet"] / len(people) <= 0.70

    joint = 0
    for d in population.debtors:
        for unit in (a for a in population.assets_of(d.id_number) if isinstance(a, RealEstate) and a.co_owners):
            joint += 1
            (other,) = unit.co_owners
            mirror = [a for a in population.assets_of(other) if isinstance(a, RealEstate) and a.unit_no == unit.unit_no]
            assert len(mirror) == 1
            assert unit.share_percent == mirror[0].share_percent == 50 and mirror[0].co_owners == [d.id_number]
            assert unit.model_dump(exclude={"co_owners"}) == mirror[0].model_dump(exclude={"co_owners"})
    assert joint > 50

    accounts = [a for d in population.debtors for a in population.assets_of(d.id_number) if isinstance(a, DepositAccount)]
    corporate = [a for a in accounts if a.account_type == "corporate"]
    wage = [a for a in corporate if a.protected]
    assert wage and all(a.protected_reason == "农民工工资专用账户" for a in wage)
    assert 0.01 <= len(wage) / len(corporate) <= 0.06
    # Social-insurance and housing-provident-fund accounts are protected, with the legal reason.
    benefits = [a for a in accounts if a.account_type in BENEFIT_ACCOUNTS]
    assert benefits and all(a.protected and a.protected_reason == BENEFIT_ACCOUNTS[a.account_type] for a in benefits)
    assert {a.account_type for a in benefits} == set(BENEFIT_ACCOUNTS)
    assert all(a.account_type in ("corporate", *BENEFIT_ACCOUNTS) for a in accounts if a.protected)
    balances = [a.value_fen for a in accounts if a.account_type == "debit_card"]
    assert statistics.mean(balances) > 3 * statistics.median(balances)  # many small, a few huge
    company = [a.value_fen for a in corporate if not a.protected]
    assert statistics.median(company) > 10 * statistics.median(balances)


def test_population_follows_a_small_directory() -> None:
    directory = Directory.from_counts({"bank": 2, "land": 1, "vehicle": 1, "payment": 1, "fund": 1, "equity": 1, "court": 1})
    p = Population.generate(seed=3, persons=500, companies=50, directory=directory)
    used = {a.institution_id for d in p.debtors for a in p.assets_of(d.id_number)}
    assert used == {"bank-01", "bank-02", "land-01", "vehicle-01", "payment-01", "fund-01", "equity-01", "court-01"}
    # One fund centre keeps only the provident fund: nobody holds a social-insurance account there.
    assert {a.fund_type for d in p.debtors for a in p.assets_of(d.id_number) if a.kind == "fund_account"} == {"housing_provident_fund"}
    for d in p.debtors:
        by_inst = sum(len(p.assets_at(i.id, d.id_number)) for i in directory.institutions)
        assert by_inst == len(p.assets_of(d.id_number))


def test_behaviour_and_latency_parsing() -> None:
    lat = Latency.parse("20:200")
    assert (lat.median_ms, lat.p99_ms, str(lat)) == (20, 200, "20:200")
    assert Latency.parse("0").sample_ms() == 0.0
    import random

    rng = random.Random(1)
    samples = sorted(lat.sample_ms(rng) for _ in range(4000))
    assert 17 < samples[2000] < 23 and 150 < samples[3960] < 260
    with pytest.raises(ValueError):
        Latency.parse("fast")
    with pytest.raises(ValueError):
        Latency(200, 20)
    b = Behaviours(default=Behaviour(error_status=502), default_latency=Latency(5, 50))
    assert b.get("bank-01").latency == Latency(5, 50) and b.get("bank-01").error_status == 502
    assert b.update("bank-01", {"error_rate": 1}).error_rate == 1.0 and b.fails("bank-01") and not b.fails("bank-02")
    with pytest.raises(ValueError):
        b.update("bank-01", {"error_rate": 2})
    with pytest.raises(ValueError):
        b.update("bank-01", {"colour": "red"})
    assert b.reset("bank-01") == b.default


# --- HTTP APIs ----------------------------------------------------------------------------------


async def test_healthz_truth_and_unknown_institution(sim: Sim) -> None:
    for kind in DEFAULT_PORTS:
        async with sim.http.get(sim.url(kind, "/healthz")) as r:
            body = await r.json()
        assert body == {"ok": True, "kind": kind, "institutions": [i.id for i in sim.population.directory.of_kind(kind)]}
    d = sim.holders("bank-01")[0]
    async with sim.http.get(sim.url("bank", f"/admin/truth/{d.id_number}")) as r:
        truth = await r.json()
    expected = [a for a in sim.population.assets_of(d.id_number) if a.kind == "deposit"]
    assert truth == {"id_number": d.id_number, "assets": [a.model_dump(mode="json") for a in expected]}
    async with sim.http.get(sim.url("land", "/admin/truth/nobody")) as r:
        assert r.status == 200 and (await r.json())["assets"] == []
    async with sim.http.post(sim.url("bank", "/bank-99/api/v1/deposit-inquiries"), json=inquiry(d, sim.credential)) as r:
        assert r.status == 404 and (await r.json())["error"] == "unknown_institution"
    async with sim.http.post(sim.url("bank", "/land-01/api/v1/deposit-inquiries"), json=inquiry(d, sim.credential)) as r:
        assert r.status == 404


async def test_bank_answers_the_truth(sim: Sim) -> None:
    inst = "bank-03"
    for d in sim.holders(inst):
        body = inquiry(d, sim.credential)
        async with sim.http.post(sim.url("bank", f"/{inst}/api/v1/deposit-inquiries"), json=body) as r:
            assert r.status == 200
            answer = await r.json()
        truth = sim.population.assets_at(inst, d.id_number)
        assert answer["request_id"] == body["request_id"] and answer["customer_found"] is True
        assert answer["accounts"] == [
            {"account_no": a.account_no, "account_type": a.account_type, "currency": "CNY", "balance_fen": a.value_fen,
             "holders": [d.id_number], "protected": a.protected, "protected_reason": a.protected_reason}
            for a in truth if isinstance(a, DepositAccount)
        ]
    body = inquiry(sim.non_holder(inst), sim.credential)
    async with sim.http.post(sim.url("bank", f"/{inst}/api/v1/deposit-inquiries"), json=body) as r:
        assert r.status == 200
        assert await r.json() == {"request_id": body["request_id"], "customer_found": False, "accounts": []}
    # A resident ID presented as a credit code identifies nobody.
    d = sim.holders(inst)[0]
    wrong = {**inquiry(d, sim.credential), "subject": {**subject(d), "id_type": "uscc"}}
    async with sim.http.post(sim.url("bank", f"/{inst}/api/v1/deposit-inquiries"), json=wrong) as r:
        assert (await r.json())["customer_found"] is False
    for bad in ({}, {**inquiry(d, sim.credential), "subject": {"id_type": "passport", "id_number": "x", "name": "y"}}):
        async with sim.http.post(sim.url("bank", f"/{inst}/api/v1/deposit-inquiries"), json=bad) as r:
            assert r.status == 400 and (await r.json())["error"] == "bad_request"


async def test_protected_accounts_are_flagged(sim: Sim) -> None:
    p = sim.population
    owner, account = next(
        (d, a) for d in p.debtors for a in p.assets_of(d.id_number)
        if isinstance(a, DepositAccount) and a.protected and a.account_type == "corporate"
    )
    async with sim.http.post(sim.url("bank", f"/{account.institution_id}/api/v1/deposit-inquiries"), json=inquiry(owner, sim.credential)) as r:
        accounts = (await r.json())["accounts"]
    (flagged,) = [a for a in accounts if a["account_no"] == account.account_no]
    assert flagged["protected"] is True and flagged["protected_reason"] == "农民工工资专用账户"


async def _land_result(sim: Sim, inst: str, body: dict[str, Any]) -> dict[str, Any]:
    async with sim.http.post(sim.url("land", f"/{inst}/requests"), json=body) as r:
        assert r.status == 202
        ticket = (await r.json())["ticket"]

    async def finished() -> dict[str, Any] | None:
        async with sim.http.get(sim.url("land", f"/{inst}/requests/{ticket}")) as r:
            assert r.status == 200
            state = await r.json()
        return state if state["state"] != "processing" else None

    return await wait_for(finished, 10, interval=0.02, what="the land request to finish")


def _units(sim: Sim, inst: str, d: DebtorRecord) -> list[dict[str, Any]]:
    return [
        {"unit_no": u.unit_no, "certificate_no": u.certificate_no, "address": u.address, "floor_area_dm2": u.floor_area_dm2,
         "value_fen": u.value_fen, "share_percent": u.share_percent, "co_owners": u.co_owners}
        for u in sim.population.assets_at(inst, d.id_number) if isinstance(u, RealEstate)
    ]


async def test_land_registry_answers_the_truth_after_processing(sim: Sim) -> None:
    inst = "land-01"
    # Include a joint owner: the registry must report the share and the other holder.
    joint = next(d for d in (sim.population.find(i) for i in sim.population.holders_at(inst))
                 if any(a.co_owners for a in sim.population.assets_at(inst, d.id_number)))
    for d in [*sim.holders(inst), joint]:
        state = await _land_result(sim, inst, inquiry(d, sim.credential))
        assert state == {"state": "done", "found": True, "units": _units(sim, inst, d)}
    state = await _land_result(sim, inst, inquiry(sim.non_holder(inst), sim.credential))
    assert state == {"state": "done", "found": False, "units": []}
    async with sim.http.get(sim.url("land", f"/{inst}/requests/no-such-ticket")) as r:
        assert r.status == 404


async def test_land_polling_goes_processing_then_done(sim: Sim) -> None:
    inst = "land-02"
    d = sim.holders(inst)[0]
    await sim.behave("land", inst, latency="800:800")
    try:
        submitted = time.monotonic()
        async with sim.http.post(sim.url("land", f"/{inst}/requests"), json=inquiry(d, sim.credential)) as r:
            assert r.status == 202
            ticket = (await r.json())["ticket"]
        states = []
        while not states or states[-1]["state"] == "processing":
            assert time.monotonic() - submitted < 5, states
            async with sim.http.get(sim.url("land", f"/{inst}/requests/{ticket}")) as r:
                states.append(await r.json())
            await asyncio.sleep(0.05)
        assert time.monotonic() - submitted >= 0.8
        assert states[0] == {"state": "processing"}
        assert states[-1] == {"state": "done", "found": True, "units": _units(sim, inst, d)}
        # A ticket belongs to the registry that issued it.
        async with sim.http.get(sim.url("land", f"/land-01/requests/{ticket}")) as r:
            assert r.status == 404
    finally:
        await sim.reset("land", inst)


async def test_vehicle_batch_answers_the_truth(sim: Sim) -> None:
    inst = "vehicle-01"
    debtors = [*sim.holders(inst, 6), sim.non_holder(inst)]
    body = {
        "batch_id": "b1", "court": COURT, "notice_number": NOTICE, "officer_credentials": ["ZF-unknown", sim.credential],
        "items": [{"item_id": f"i{n}", "case_number": CASE, "id_number": d.id_number, "name": d.name} for n, d in enumerate(debtors)],
    }
    async with sim.http.post(sim.url("vehicle", f"/{inst}/batch-queries"), json=body) as r:
        assert r.status == 200
        answer = await r.json()
    assert answer["batch_id"] == "b1"
    expected = []
    for n, d in enumerate(debtors):
        vehicles = [
            {"plate": v.plate, "vin": v.vin, "model": v.model, "registered_on": v.registered_on, "value_fen": v.value_fen}
            for v in sim.population.assets_at(inst, d.id_number) if isinstance(v, Vehicle)
        ]
        expected.append({"item_id": f"i{n}", "status": "found" if vehicles else "not_found", "vehicles": vehicles, "reason": None})
    assert answer["items"] == expected
    assert [i["status"] for i in expected].count("not_found") == 1
    too_many = {**body, "items": body["items"][:1] * 101}
    for bad in (too_many, {**body, "items": []}):
        async with sim.http.post(sim.url("vehicle", f"/{inst}/batch-queries"), json=bad) as r:
            assert r.status == 400 and (await r.json())["error"] == "bad_request"


def _gateway(d: DebtorRecord, credential: str, method: str = "court.wallet.query") -> dict[str, Any]:
    return {
        "method": method, "request_id": uuid.uuid4().hex, "timestamp": "2025-11-22T10:00:00+08:00",
        "biz_content": {
            "case_number": CASE, "court": COURT, "notice_number": NOTICE, "officer_credentials": [credential],
            "cert_type": "ID_CARD" if d.kind == "person" else "USCC", "cert_no": d.id_number, "name": d.name,
        },
    }


async def _pay(sim: Sim, inst: str, body: dict[str, Any]) -> dict[str, Any]:
    async with sim.http.post(sim.url("payment", f"/{inst}/gateway"), json=body) as r:
        assert r.status == 200
        return await r.json()


async def test_payment_gateway_answers_the_truth(sim: Sim) -> None:
    for inst in ("payment-01", "payment-02"):
        for d in sim.holders(inst):
            wallets = [
                {"wallet_id": w.wallet_id, "balance_fen": w.value_fen}
                for w in sim.population.assets_at(inst, d.id_number) if isinstance(w, PaymentWallet)
            ]
            assert await _pay(sim, inst, _gateway(d, sim.credential)) == {"code": "10000", "msg": "Success", "data": {"wallets": wallets}}
        answer = await _pay(sim, inst, _gateway(sim.non_holder(inst), sim.credential))
        assert answer["code"] == "40004" and answer["msg"] == "user not found"
    d = sim.holders("payment-01")[0]
    assert (await _pay(sim, "payment-01", _gateway(d, sim.credential, method="court.wallet.freeze")))["code"] == "40001"
    broken = _gateway(d, sim.credential)
    del broken["biz_content"]["cert_no"]
    assert (await _pay(sim, "payment-01", broken))["code"] == "40002"


async def test_unregistered_credentials_are_refused_everywhere(sim: Sim) -> None:
    d = sim.holders("bank-01")[0]
    async with sim.http.post(sim.url("bank", "/bank-01/api/v1/deposit-inquiries"), json=inquiry(d, UNREGISTERED)) as r:
        assert r.status == 403
        body = await r.json()
        assert body["error"] == "refused" and body["reason"]
    d = sim.holders("land-01")[0]
    state = await _land_result(sim, "land-01", inquiry(d, UNREGISTERED))
    assert state["state"] == "refused" and state["reason"]
    debtors = [*sim.holders("vehicle-01"), sim.non_holder("vehicle-01")]
    batch = {
        "batch_id": "b2", "court": COURT, "notice_number": NOTICE, "officer_credentials": [UNREGISTERED],
        "items": [{"item_id": d.id_number, "case_number": CASE, "id_number": d.id_number, "name": d.name} for d in debtors],
    }
    async with sim.http.post(sim.url("vehicle", "/vehicle-01/batch-queries"), json=batch) as r:
        items = (await r.json())["items"]
    assert [i["status"] for i in items] == ["refused"] * len(debtors) and all(i["reason"] and not i["vehicles"] for i in items)
    d = sim.holders("payment-02")[0]
    answer = await _pay(sim, "payment-02", _gateway(d, UNREGISTERED))
    assert answer["code"] == "40003" and answer["sub_msg"]


async def test_error_injection_through_the_admin_api(sim: Sim) -> None:
    d = sim.holders("bank-05")[0]
    url = sim.url("bank", "/bank-05/api/v1/deposit-inquiries")
    state = await sim.behave("bank", "bank-05", error_rate=1.0, error_status=502)
    core = ("institution_id", "latency", "error_rate", "error_status", "hang")
    assert {k: state[k] for k in core} == {"institution_id": "bank-05", "latency": "0:0", "error_rate": 1.0, "error_status": 502, "hang": False}
    try:
        async with sim.http.post(url, json=inquiry(d, sim.credential)) as r:
            assert r.status == 502 and await r.json() == {"error": "unavailable"}
        # Only the named institution misbehaves.
        other = sim.holders("bank-06")[0]
        async with sim.http.post(sim.url("bank", "/bank-06/api/v1/deposit-inquiries"), json=inquiry(other, sim.credential)) as r:
            assert r.status == 200
    finally:
        await sim.reset("bank", "bank-05")
    async with sim.http.post(url, json=inquiry(d, sim.credential)) as r:
        assert r.status == 200

    await sim.behave("land", "land-03", error_rate=1)
    try:
        async with sim.http.post(sim.url("land", "/land-03/requests"), json=inquiry(d, sim.credential)) as r:
            assert r.status == 503 and await r.json() == {"error": "unavailable"}
    finally:
        await sim.reset("land", "land-03")

    await sim.behave("payment", "payment-01", error_rate=1)
    try:
        d = sim.holders("payment-01")[0]
        answer = await _pay(sim, "payment-01", _gateway(d, sim.credential))
        assert answer["code"] == "20000" and answer["msg"] == "service unavailable"
    finally:
        await sim.reset("payment", "payment-01")

    for bad in ({"error_rate": 3}, {"latency": "slow"}, {"hang": "yes"}, {"colour": 1}):
        async with sim.http.put(sim.url("bank", "/admin/institutions/bank-05/behaviour"), json=bad) as r:
            assert r.status == 400
    async with sim.http.put(sim.url("bank", "/admin/institutions/land-01/behaviour"), json={"hang": True}) as r:
        assert r.status == 404


async def test_hanging_institution_never_answers(sim: Sim) -> None:
    inst = "vehicle-01"
    d = sim.holders(inst)[0]
    batch = {
        "batch_id": "b3", "court": COURT, "notice_number": NOTICE, "officer_credentials": [sim.credential],
        "items": [{"item_id": "x", "case_number": CASE, "id_number": d.id_number, "name": d.name}],
    }
    await sim.behave("vehicle", inst, hang=True)
    try:
        with pytest.raises(asyncio.TimeoutError):
            async with sim.http.post(sim.url("vehicle", f"/{inst}/batch-queries"), json=batch,
                                     timeout=aiohttp.ClientTimeout(total=0.3)):
                pass
    finally:
        await sim.reset("vehicle", inst)
    async with sim.http.post(sim.url("vehicle", f"/{inst}/batch-queries"), json=batch) as r:
        assert (await r.json())["items"][0]["status"] == "found"


async def test_latency_is_applied(sim: Sim) -> None:
    d = sim.holders("bank-07")[0]
    await sim.behave("bank", "bank-07", latency="150:150")
    try:
        started = time.monotonic()
        async with sim.http.post(sim.url("bank", "/bank-07/api/v1/deposit-inquiries"), json=inquiry(d, sim.credential)) as r:
            assert r.status == 200
        assert time.monotonic() - started >= 0.14
    finally:
        await sim.reset("bank", "bank-07")


# --- batch interfaces (总对总): bank, land registry, payment app --------------------------------


def batch_inquiry(debtors: list[DebtorRecord], credential: str) -> dict[str, Any]:
    return {
        "batch_id": uuid.uuid4().hex, "case_number": CASE, "court": COURT, "notice_number": NOTICE,
        "officer_credentials": [credential],
        "subjects": [{"request_id": f"r{n}", **subject(d)} for n, d in enumerate(debtors)],
    }


def _accounts(sim: Sim, inst: str, d: DebtorRecord) -> list[dict[str, Any]]:
    return [
        {"account_no": a.account_no, "account_type": a.account_type, "currency": "CNY", "balance_fen": a.value_fen,
         "holders": [d.id_number, *a.co_owners], "protected": a.protected, "protected_reason": a.protected_reason}
        for a in sim.population.assets_at(inst, d.id_number) if isinstance(a, DepositAccount)
    ]


def _bad_batches(body: dict[str, Any], limit: int) -> list[tuple[str, dict[str, Any]]]:
    """Bad variants of a batch body, each with the field the answer must name."""
    subjects = body["subjects"]
    return [
        ("subjects.1.id_type", {**body, "subjects": [subjects[0], {**subjects[1], "id_type": "passport"}]}),
        ("subjects.0.request_id", {**body, "subjects": [{k: v for k, v in subjects[0].items() if k != "request_id"}]}),
        ("officer_credentials", {k: v for k, v in body.items() if k != "officer_credentials"}),
        ("subjects", {**body, "subjects": subjects[:1] * (limit + 1)}),  # too many
        ("subjects", {**body, "subjects": []}),
    ]


async def test_bank_batch_answers_the_truth(sim: Sim) -> None:
    inst, path = "bank-03", "/bank-03/api/v1/deposit-inquiry-batches"
    holder = sim.holders(inst)[0]
    debtors = [*sim.holders(inst, 6), sim.non_holder(inst), holder]
    body = batch_inquiry(debtors, sim.credential)
    body["subjects"][-1]["id_type"] = "uscc"  # a resident ID presented as a credit code identifies nobody
    async with sim.http.post(sim.url("bank", path), json=body) as r:
        assert r.status == 200
        answer = await r.json()
    expected = [{"request_id": f"r{n}", "customer_found": bool(accts), "accounts": accts}
                for n, accts in enumerate(_accounts(sim, inst, d) for d in debtors)]
    expected[-1] = {"request_id": f"r{len(debtors) - 1}", "customer_found": False, "accounts": []}
    assert answer == {"batch_id": body["batch_id"], "results": expected}
    assert [x["customer_found"] for x in expected].count(False) == 2

    # The limit itself is fine: 500 subjects, one answer each, in order.
    many = batch_inquiry([sim.population.debtors[n] for n in range(500)], sim.credential)
    async with sim.http.post(sim.url("bank", path), json=many) as r:
        assert r.status == 200
        assert [x["request_id"] for x in (await r.json())["results"]] == [f"r{n}" for n in range(500)]

    async with sim.http.post(sim.url("bank", path), json=batch_inquiry(debtors, UNREGISTERED)) as r:
        assert r.status == 403
        refused = await r.json()
        assert refused["error"] == "refused" and refused["reason"]
    for field, bad in _bad_batches(body, 500):
        async with sim.http.post(sim.url("bank", path), json=bad) as r:
            assert r.status == 400, field
            reason = (await r.json())["reason"]
        assert reason.startswith(f"{field}:"), (field, reason)


async def _land_batch_result(sim: Sim, inst: str, body: dict[str, Any]) -> dict[str, Any]:
    async with sim.http.post(sim.url("land", f"/{inst}/request-batches"), json=body) as r:
        assert r.status == 202
        ticket = (await r.json())["ticket"]

    async def finished() -> dict[str, Any] | None:
        async with sim.http.get(sim.url("land", f"/{inst}/request-batches/{ticket}")) as r:
            assert r.status == 200
            state = await r.json()
        return state if state["state"] != "processing" else None

    return await wait_for(finished, 10, interval=0.02, what="the land batch to finish")


async def test_land_registry_batch_answers_the_truth(sim: Sim) -> None:
    inst = "land-01"
    joint = next(d for d in (sim.population.find(i) for i in sim.population.holders_at(inst))
                 if any(a.co_owners for a in sim.population.assets_at(inst, d.id_number)))
    debtors = [*sim.holders(inst), joint, sim.non_holder(inst)]
    body = batch_inquiry(debtors, sim.credential)
    state = await _land_batch_result(sim, inst, body)
    expected = [{"request_id": f"r{n}", "found": bool(units), "units": units}
                for n, units in enumerate(_units(sim, inst, d) for d in debtors)]
    assert state == {"state": "done", "results": expected}
    assert not expected[-1]["found"] and all(x["found"] for x in expected[:-1])

    refused = await _land_batch_result(sim, inst, batch_inquiry(debtors, UNREGISTERED))
    assert refused["state"] == "refused" and refused["reason"] and "results" not in refused

    # Batch and single tickets live apart: neither is found under the other's path.
    async with sim.http.post(sim.url("land", f"/{inst}/request-batches"), json=body) as r:
        batch_ticket = (await r.json())["ticket"]
    async with sim.http.post(sim.url("land", f"/{inst}/requests"), json=inquiry(debtors[0], sim.credential)) as r:
        single_ticket = (await r.json())["ticket"]
    for path in (f"/{inst}/requests/{batch_ticket}", f"/{inst}/request-batches/{single_ticket}",
                 f"/land-02/request-batches/{batch_ticket}"):
        async with sim.http.get(sim.url("land", path)) as r:
            assert r.status == 404, path

    for field, bad in _bad_batches(body, 500):
        async with sim.http.post(sim.url("land", f"/{inst}/request-batches"), json=bad) as r:
            assert r.status == 400, field
            reason = (await r.json())["reason"]
        assert reason.startswith(f"{field}:"), (field, reason)


async def test_land_batch_takes_one_processing_time(sim: Sim) -> None:
    inst = "land-03"
    await sim.behave("land", inst, latency="400:400")
    try:
        submitted = time.monotonic()
        async with sim.http.post(sim.url("land", f"/{inst}/request-batches"),
                                 json=batch_inquiry(sim.holders(inst), sim.credential)) as r:
            ticket = (await r.json())["ticket"]
        async with sim.http.get(sim.url("land", f"/{inst}/request-batches/{ticket}")) as r:
            assert await r.json() == {"state": "processing"}
        while True:
            async with sim.http.get(sim.url("land", f"/{inst}/request-batches/{ticket}")) as r:
                state = await r.json()
            if state["state"] != "processing":
                break
            assert time.monotonic() - submitted < 5
            await asyncio.sleep(0.05)
        assert 0.4 <= time.monotonic() - submitted < 1.5  # once for the batch, not once per subject
        assert state["state"] == "done" and len(state["results"]) == len(sim.holders(inst))
    finally:
        await sim.reset("land", inst)


def _batch_gateway(debtors: list[DebtorRecord], credential: str) -> dict[str, Any]:
    return {
        "method": "court.wallet.batch_query", "request_id": uuid.uuid4().hex, "timestamp": "2025-11-22T10:00:00+08:00",
        "biz_content": {
            "case_number": CASE, "court": COURT, "notice_number": NOTICE, "officer_credentials": [credential],
            "subjects": [{"request_id": f"r{n}", "cert_type": "ID_CARD" if d.kind == "person" else "USCC",
                          "cert_no": d.id_number, "name": d.name} for n, d in enumerate(debtors)],
        },
    }


async def test_payment_batch_query_answers_the_truth(sim: Sim) -> None:
    for inst in ("payment-01", "payment-02"):
        debtors = [*sim.holders(inst), sim.non_holder(inst)]
        expected = []
        for n, d in enumerate(debtors):
            wallets = [{"wallet_id": w.wallet_id, "balance_fen": w.value_fen}
                       for w in sim.population.assets_at(inst, d.id_number) if isinstance(w, PaymentWallet)]
            expected.append({"request_id": f"r{n}", "code": "10000" if wallets else "40004", "wallets": wallets})
        answer = await _pay(sim, inst, _batch_gateway(debtors, sim.credential))
        assert answer == {"code": "10000", "msg": "Success", "data": {"results": expected}}
        assert [x["code"] for x in expected] == ["10000"] * (len(debtors) - 1) + ["40004"]

    debtors = sim.holders("payment-01")
    refused = await _pay(sim, "payment-01", _batch_gateway(debtors, UNREGISTERED))
    assert refused["code"] == "40003" and refused["sub_msg"] and "data" not in refused

    good = _batch_gateway(debtors, sim.credential)
    biz = good["biz_content"]
    bad = {
        "biz_content.subjects.1.cert_type": {**biz, "subjects": [biz["subjects"][0], {**biz["subjects"][1], "cert_type": "PASSPORT"}]},
        "biz_content.subjects.0.request_id": {**biz, "subjects": [{k: v for k, v in biz["subjects"][0].items() if k != "request_id"}]},
        "biz_content.case_number": {k: v for k, v in biz.items() if k != "case_number"},
        "biz_content.subjects": {**biz, "subjects": biz["subjects"][:1] * 501},
    }
    for field, content in bad.items():
        answer = await _pay(sim, "payment-01", {**good, "biz_content": content})
        assert answer["code"] == "40002" and answer["sub_msg"].startswith(f"{field}:"), (field, answer)
    assert (await _pay(sim, "payment-01", {**good, "biz_content": {**biz, "subjects": []}}))["code"] == "40002"

    await sim.behave("payment", "payment-01", error_rate=1)
    try:
        answer = await _pay(sim, "payment-01", good)
        assert answer["code"] == "20000" and "data" not in answer
    finally:
        await sim.reset("payment", "payment-01")


# --- the connectors read the batch answers ------------------------------------------------------

CONNECTORS = {"bank": BankConnector, "land": LandRegistryConnector, "vehicle": VehicleOfficeConnector,
              "payment": PaymentAppConnector, "fund": FundCentreConnector, "equity": MarketRegulatorConnector,
              "court": CourtConnector}


def leg_batch(inst: str, debtors: list[DebtorRecord], credential: str) -> LegBatch:
    return LegBatch(
        inquiry_id="inq-1", batch_id="b-1", case_number=CASE, court=COURT, notice_number=NOTICE,
        officer_credentials=[credential], institution_kind=inst.split("-")[0],
        deadline=datetime.now(UTC) + timedelta(minutes=1),
        legs=[LegItem(leg_id=f"leg{n}", institution_id=inst, debtor=Debtor(kind=d.kind, id_number=d.id_number, name=d.name))
              for n, d in enumerate(debtors)],
    )


@pytest.mark.parametrize("inst", ["bank-02", "land-01", "vehicle-01", "payment-02", "fund-01", "fund-04", "equity-01", "court-02"])
async def test_connectors_read_the_batch_answers(sim: Sim, inst: str) -> None:
    kind = inst.split("-")[0]
    institution = sim.population.directory.by_id[inst]
    connector = CONNECTORS[kind](HttpTransport(sim.url(kind, "")))
    try:
        debtors = [*sim.holders(inst, 4), sim.non_holder(inst)]
        answers = await connector.query(institution, leg_batch(inst, debtors, sim.credential))
        assert list(answers) == [f"leg{n}" for n in range(len(debtors))]
        for n, d in enumerate(debtors[:-1]):
            assert answers[f"leg{n}"] == Found(sim.population.assets_at(inst, d.id_number)), d
        assert isinstance(answers[f"leg{len(debtors) - 1}"], NotFound)

        refused = await connector.query(institution, leg_batch(inst, debtors, UNREGISTERED))
        assert list(refused) == list(answers)
        assert all(isinstance(a, Refused) and a.reason for a in refused.values())

        # A chunk of max_batch legs is within the institution's limit.
        full = list(sim.population.debtors[: connector.max_batch])
        assert len(await connector.query(institution, leg_batch(inst, full, sim.credential))) == connector.max_batch
    finally:
        await connector.aclose()
