"""Fixtures: one real stack per test session — embedded broker, simulators, connector workers and
gateway as separate processes — reached only through the Kafka protocol and HTTP."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest

from assetgw.stack.supervisor import Stack
from simulators.population import Population

ENGINE = os.environ.get("ASSETGW_TEST_ENGINE", "noida")
SEED = 20251122
# Small population keeps each process's start-up quick; the rules and skew are the same.
PERSONS, COMPANIES = 3000, 300
INQUIRY_DEADLINE_S = 120  # tests of deadlines set their own; bulk tests must not race a loaded machine

CASE = {
    "case_number": "(2025)冀0108执4502号",
    "court": "石家庄市裕华区人民法院",
    "amount_due_fen": 50_000_000,
    "costs_fen": 500_000,
    "notice_number": "(2025)冀0108执4502号-查",
}


@pytest.fixture(scope="session")
def population() -> Population:
    return Population.generate(seed=SEED, persons=PERSONS, companies=COMPANIES)


@pytest.fixture(scope="session")
def credential(population: Population) -> str:
    return population.officer_credentials[0]


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("stack")
    stack = Stack(
        data_dir,
        engine=ENGINE,
        kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP"),
        ports="free",
        env={
            "ASSETGW_TOPIC_PREFIX": f"test{int(time.time())}",
            "ASSETGW_INQUIRY_DEADLINE": str(INQUIRY_DEADLINE_S),
            "ASSETGW_CALL_TIMEOUT": "2",
            "ASSETGW_RESEND_AFTER": "15",
            "ASSETGW_PARTITIONS": "4",
            # Small leg messages, so a few hundred debtors make many messages (crash and shutdown
            # tests need work in flight) while a batch still spans several per institution.
            "ASSETGW_LEGS_PER_MESSAGE": "25",
            # Bulk tests post orders as fast as they can; the rate limit itself has its own test.
            "ASSETGW_RATE_LIMIT": "5000",
            "ASSETGW_RATE_BURST": "10000",
        },
        simulator_args=["--seed", str(SEED), "--persons", str(PERSONS), "--companies", str(COMPANIES), "--latency", "1:10"],
    )
    try:
        await stack.start(timeout=120)
        yield stack
    finally:
        await stack.stop()


# The courts the tests act for, with the codes their case numbers carry.
COURT_CODES = {"石家庄市裕华区人民法院": "冀0108", "石家庄市长安区人民法院": "冀0102", "石家庄市新华区人民法院": "冀0105"}
ALL_ROLES = ("officer", "deduct", "ops")


def officer_session(stack: Stack, officer: str, court: str, roles: tuple[str, ...] = ALL_ROLES) -> aiohttp.ClientSession:
    token = stack.token(officer, court, COURT_CODES[court], list(roles))
    return aiohttp.ClientSession(stack.api_url, headers={"Authorization": f"Bearer {token}"})


def officer_token(stack: Stack, officer: str = "OFFICER-A1", court: str = CASE["court"], roles: tuple[str, ...] = ALL_ROLES) -> str:
    return stack.token(officer, court, COURT_CODES[court], list(roles))


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    """Officer OFFICER-A1 of the court that holds CASE, with every role."""
    async with officer_session(stack, "OFFICER-A1", CASE["court"]) as session:
        yield session


@pytest.fixture
async def officers(stack: Stack) -> AsyncIterator[Any]:
    """``officers(officer_id, court, roles=...)``: an API session acting as that officer."""
    sessions: dict[tuple, aiohttp.ClientSession] = {}

    def session(officer: str, court: str, roles: tuple[str, ...] = ALL_ROLES) -> aiohttp.ClientSession:
        key = (officer, court, roles)
        if key not in sessions:
            sessions[key] = officer_session(stack, officer, court, roles)
        return sessions[key]

    yield session
    for s in sessions.values():
        await s.close()


@pytest.fixture
async def simulators(stack: Stack) -> AsyncIterator["Simulators"]:
    async with aiohttp.ClientSession() as session:
        yield Simulators(stack, session)


class Simulators:
    """The simulators' admin API: ground truth and behaviour (faults, latency)."""

    def __init__(self, stack: Stack, session: aiohttp.ClientSession) -> None:
        self.stack, self.session = stack, session

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.stack.sim_ports[kind]}"

    async def truth(self, id_number: str) -> list[dict[str, Any]]:
        assets: list[dict[str, Any]] = []
        for kind in self.stack.sim_ports:
            async with self.session.get(f"{self.url(kind)}/admin/truth/{id_number}") as r:
                body = await r.json()
                assert r.status == 200
                assets.extend(body["assets"])
        return assets

    async def behave(self, institution_id: str, **behaviour: Any) -> None:
        kind = institution_id.split("-")[0]
        async with self.session.put(f"{self.url(kind)}/admin/institutions/{institution_id}/behaviour", json=behaviour) as r:
            text = await r.text()  # always read: an unread body can stall the session (aiohttp #2217)
            assert r.status == 200, text

    async def reset(self, institution_id: str) -> None:
        kind = institution_id.split("-")[0]
        async with self.session.delete(f"{self.url(kind)}/admin/institutions/{institution_id}/behaviour") as r:
            text = await r.text()
            assert r.status == 200, text

    async def _call(self, method: str, kind: str, path: str, **kwargs: Any) -> Any:
        async with self.session.request(method, f"{self.url(kind)}{path}", **kwargs) as r:
            assert r.status == 200, f"{method} {path}: {r.status} {await r.text()}"
            return await r.json()

    async def ledger(self, institution_id: str, asset_id: str) -> dict[str, Any]:
        kind = institution_id.split("-")[0]
        return await self._call("GET", kind, f"/admin/institutions/{institution_id}/assets/{asset_id}/ledger")

    async def credit(self, institution_id: str, asset_id: str, amount_fen: int) -> dict[str, Any]:
        kind = institution_id.split("-")[0]
        return await self._call("POST", kind, f"/admin/institutions/{institution_id}/assets/{asset_id}/credit",
                                json={"amount_fen": amount_fen})

    async def advance(self, days: float) -> dict[str, Any]:
        """Moves the simulators' shared clock forward (lapses, promotions)."""
        return await self._call("POST", "bank", "/admin/clock/advance", json={"days": days})

    async def summary(self, kind: str) -> dict[str, Any]:
        return await self._call("GET", kind, "/admin/ledgers/summary")


async def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def get_json(session: aiohttp.ClientSession, path: str) -> Any:
    async with session.get(path) as r:
        assert r.status == 200, f"GET {path}: {r.status} {await r.text()}"
        return await r.json()


async def wait_inquiry(api: aiohttp.ClientSession, location: str, timeout: float = 60) -> dict[str, Any]:
    async def done():  # type: ignore[no-untyped-def]
        body = await get_json(api, location)
        return body if body["status"] == "completed" else None

    return await wait_for(done, timeout, what=f"inquiry {location} to complete")


async def wait_batch(api: aiohttp.ClientSession, location: str, timeout: float = 300) -> dict[str, Any]:
    async def done():  # type: ignore[no-untyped-def]
        body = await get_json(api, location)
        return body if body["status"] == "completed" else None

    return await wait_for(done, timeout, interval=0.5, what=f"batch {location} to complete")


def case_body(debtors: list[dict[str, Any]], credential: str, **extra: Any) -> dict[str, Any]:
    return {**CASE, "officer_credentials": [credential], "debtors": debtors, **extra}


def debtor_json(d: Any) -> dict[str, str]:
    return {"kind": d.kind, "id_number": d.id_number, "name": d.name}

