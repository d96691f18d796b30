"""Shared test helpers: waiting on conditions, the API as an officer uses it, the simulators' admin
API, and reading topics and metrics. Fixtures live in conftest.py; no test file imports another."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from yarl import URL

from assetgw import endpoints
from assetgw.ops.rebuild import compare, rebuild
from assetgw.stack.supervisor import Stack
from infra.settings import Settings
from schemas.assets import ASSET_KINDS, ID_FIELD, asset_id
from schemas.courts import Courts
from schemas.directory import Directory
from schemas.signing import PartnerKeys, sign_headers
from schemas.watches import today_in_china
from simulators.population import registered_credentials

CASE = {
    "case_number": "(2025)冀0108执4502号",
    "court": "石家庄市裕华区人民法院",
    "amount_due_fen": 50_000_000,
    "costs_fen": 500_000,
    "notice_number": "(2025)冀0108执4502号-查",
}
COURT_A, COURT_B = "石家庄市裕华区人民法院", "石家庄市长安区人民法院"
# The courts the tests act for, with the codes their case numbers carry.
COURT_CODES = {COURT_A: "冀0108", COURT_B: "冀0102", "石家庄市新华区人民法院": "冀0105"}
# The courts' enforcement-fund accounts (执行款专户), where deductions must go: from the directory.
ACCOUNT_A = Courts.built_in().by_code[COURT_CODES[COURT_A]].enforcement_account
ACCOUNT_B = Courts.built_in().by_code[COURT_CODES[COURT_B]].enforcement_account
ALL_ROLES = ("officer", "deduct", "ops")
SEED = 20251122  # the simulated population's
# Legs of one debtor's inquiry: one per institution of the default directory that answers inquiries.
LEGS_PER_DEBTOR = len(Directory.from_counts().queryable())
POLLING_BANKS = frozenset(i.id for i in Directory.from_counts().polling())  # they answer only through the file exchange
# A credential the institutions never registered: the identity system may know one they do not yet.
UNREGISTERED = "UNREGISTERED-001"
# What the tests' officers present, so their tokens carry it: the population's first registered
# credentials (the ``credential`` fixture is the first) and the unregistered one. A test about
# someone else's credential presents one outside this list.
OFFICER_CREDENTIALS = (*registered_credentials(SEED)[:3], UNREGISTERED)
LONG_POLL_S = 30  # per request of GET /v1/inquiries/{id}?wait= (the API allows up to 60)


# --- waiting ------------------------------------------------------------------------------------

async def wait_for(predicate: Callable[[], Awaitable[Any]], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Polls ``predicate`` until it returns something truthy, and returns that."""
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


async def post_json(api: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with api.post(path, json=body) as r:
        return r.status, await r.json()


async def wait_inquiry(api: aiohttp.ClientSession, location: str, timeout: float = 60) -> dict[str, Any]:
    """The completed inquiry, through the API's own long-poll (``?wait=``): answered the moment it
    completes, so a test neither sleeps nor polls."""
    deadline = time.monotonic() + timeout
    while True:
        wait_s = max(0.0, min(LONG_POLL_S, deadline - time.monotonic()))
        async with api.get(location, params={"wait": f"{wait_s:.1f}"}) as r:
            assert r.status == 200, f"GET {location}: {r.status} {await r.text()}"
            body = await r.json()
        if body["status"] == "completed":
            return body
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for inquiry {location} to complete: {body['progress']}")


async def wait_batch(api: aiohttp.ClientSession, location: str, timeout: float = 300) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body = await get_json(api, location)
        return body if body["status"] == "completed" else None

    return await wait_for(done, timeout, interval=0.5, what=f"batch {location} to complete")


# --- inquiries ----------------------------------------------------------------------------------

def case_body(debtors: list[dict[str, Any]], credential: str, **extra: Any) -> dict[str, Any]:
    return {**CASE, "officer_credentials": [credential], "debtors": debtors, **extra}


def debtor_json(d: Any) -> dict[str, str]:
    return {"kind": d.kind, "id_number": d.id_number, "name": d.name}


async def post_batch(api: aiohttp.ClientSession, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Posts NDJSON rows to /v1/inquiry-batches; returns the acceptance."""
    lines = b"\n".join(orjson.dumps(row) for row in rows)
    async with api.post("/v1/inquiry-batches", data=lines, headers={"Content-Type": "application/x-ndjson"}) as r:
        assert r.status == 202, await r.text()
        return await r.json()


def rich_debtor(population: Any) -> Any:
    """A debtor who holds every kind of asset, so one report exercises every connector."""
    for d in population.debtors:
        kinds = {a.kind for a in population.assets_of(d.id_number)}
        if kinds == set(ASSET_KINDS):
            return d
    raise AssertionError("population has no debtor holding every kind of asset")


def bulk_debtors(population: Any, count: int) -> list[Any]:
    """``count`` debtors spread over the population, a tenth of them companies."""
    people = [d for d in population.debtors if d.kind == "person"]
    companies = [d for d in population.debtors if d.kind == "organisation"]
    n_companies = count // 10
    return people[:: max(1, len(people) // (count - n_companies))][: count - n_companies] + companies[:n_companies]


def deposit_holders(population: Any, min_fen: int) -> list[Any]:
    """Debtors with an unprotected deposit of at least ``min_fen``, in population order."""
    return [d for d in population.debtors if deposit_of(population, d, min_fen) is not None]


def deposit_of(population: Any, debtor: Any, min_fen: int) -> dict[str, Any] | None:
    """The debtor's first unprotected deposit of at least ``min_fen``, as the API shows assets."""
    for a in population.assets_of(debtor.id_number):
        if a.kind == "deposit" and not a.protected and a.value_fen >= min_fen:
            return a.model_dump(mode="json")
    return None


def expected_from_truth(truth: list[dict[str, Any]]) -> tuple[dict[str, list], dict[str, int]]:
    by_kind: dict[str, list] = {k: [] for k in ASSET_KINDS}
    for asset in truth:
        by_kind[asset["kind"]].append(asset)
    for kind, items in by_kind.items():
        items.sort(key=lambda a: (a["institution_id"], a[ID_FIELD[kind]]))
    totals = {k: sum(a["value_fen"] * a["share_percent"] // 100 for a in items) for k, items in by_kind.items()}
    totals["all"] = sum(totals.values())
    return by_kind, totals


LIVE_FIELDS = ("control", "reported_value_fen", "balance_as_of")


def as_found(asset: dict[str, Any]) -> dict[str, Any]:
    """A report's asset as the inquiry found it: without what events and orders since added."""
    found = {k: v for k, v in asset.items() if k not in LIVE_FIELDS}
    if "reported_value_fen" in asset:
        found["value_fen"] = asset["reported_value_fen"]
    return found


async def assert_matches_truth(report: dict[str, Any], simulators: Simulators) -> None:
    """The report holds exactly the debtor's assets (as found; other tests may have frozen some
    since, or moved their balances)."""
    truth = await simulators.truth(report["debtor"]["id_number"])
    assets, totals = expected_from_truth(truth)
    assert {k: [as_found(a) for a in items] for k, items in report["assets"].items()} == assets, \
        f"assets differ for {report['debtor']['name']}"
    if not any("reported_value_fen" in a for items in report["assets"].values() for a in items):
        assert report["totals_fen"] == totals
    assert report["complete"]


# --- control orders -----------------------------------------------------------------------------

LIVING_ALLOWANCE_FEN = 1_000  # what the test stacks keep free of a natural person's deposits

_case_numbers = itertools.count(8000)
_used: set[str] = set()  # one set for the session: tests on the shared stack share its ledgers


async def report_while_misbehaving(api: aiohttp.ClientSession, simulators: Any, debtor: Any, credential: str,
                                   behaviours: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One debtor's report under a new case, asked while the named institutions misbehave as told
    (``Simulators.behave``; reset afterwards whatever happens). Legs have 8 s to answer."""
    try:
        for institution_id, behaviour in behaviours.items():
            await simulators.behave(institution_id, **behaviour)
        body = case_body([debtor_json(debtor)], credential, case_number=new_case_number(), deadline_seconds=8)
        status, accepted = await post_json(api, "/v1/inquiries", body)
        assert status == 202, accepted
        [report] = (await wait_inquiry(api, accepted["location"]))["reports"]
    finally:
        for institution_id in behaviours:
            await simulators.reset(institution_id)
    return report


def new_case_number(court: str = COURT_A) -> str:
    """A case of ``court`` no other test of the session uses."""
    return f"(2025){COURT_CODES[court]}执{next(_case_numbers)}号"


def pick(population: Any, predicate: Callable[[list], bool], kind: str | None = None, from_end: bool = False) -> Any:
    """A debtor no other test has used, of ``kind`` if given, whose assets satisfy ``predicate``.
    ``from_end``: from the population's end, for tests that need anyone at all, so they do not
    change whom the tests that need particular holdings get."""
    for d in (reversed(population.debtors) if from_end else population.debtors):
        if d.id_number not in _used and kind in (None, d.kind) and predicate(population.assets_of(d.id_number)):
            _used.add(d.id_number)
            return d
    raise AssertionError("no debtor fits")


def has_account(min_fen: int, protected: bool = False, takes_calls: bool = False) -> Callable[[list], bool]:
    """``takes_calls``: at a bank a test may call directly (not one that polls the file exchange)."""
    return lambda assets: any(a.kind == "deposit" and a.protected == protected and a.value_fen >= min_fen
                              and not (takes_calls and a.institution_id in POLLING_BANKS) for a in assets)


async def open_case(api: aiohttp.ClientSession, debtor: Any, credential: str, court: str = COURT_A,
                    due_fen: int = 10_000_000_00) -> tuple[str, list[dict]]:
    """An inquiry for the debtor under a new case; returns the case number and what was found."""
    case, _, assets = await open_case_inquiry(api, debtor, credential, court, due_fen)
    return case, assets


def report_assets(inquiry: dict[str, Any]) -> list[dict]:
    """Every asset of an inquiry's (first) debtor report."""
    return [a for kind in inquiry["reports"][0]["assets"].values() for a in kind]


async def open_case_inquiry(api: aiohttp.ClientSession, debtor: Any, credential: str, court: str = COURT_A,
                            due_fen: int = 10_000_000_00) -> tuple[str, str, list[dict]]:
    """As ``open_case``, with the inquiry's location too (its report can be read again later)."""
    case = new_case_number(court)
    body = {"case_number": case, "court": court, "amount_due_fen": due_fen, "costs_fen": 0,
            "notice_number": f"{case}-查", "officer_credentials": [credential], "debtors": [debtor_json(debtor)]}
    status, accepted = await post_json(api, "/v1/inquiries", body)
    assert status == 202, accepted
    inquiry = await wait_inquiry(api, accepted["location"])
    return case, accepted["location"], report_assets(inquiry)


def largest_account(assets: list[dict], takes_calls: bool = False) -> dict:
    """The debtor's largest deposit account that may be frozen (benefit accounts are protected);
    ``takes_calls``: at a bank a test may call directly."""
    return max((a for a in assets if a["kind"] == "deposit" and not a.get("protected")
                and not (takes_calls and a["institution_id"] in POLLING_BANKS)), key=lambda a: a["value_fen"])


def order_body(kind: str, case: str, court: str, asset: dict, credential: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind, "case_number": case, "court": court, "institution_id": asset["institution_id"],
        "asset": {"kind": asset["kind"], "id": asset_id(asset)}, "ruling_number": f"{case}之一",
        "notice_number": f"{case}-协执", "officer_credentials": [credential], "operator": "OFFICER-A1",
        "idempotency_key": uuid.uuid4().hex, **extra,
    }


async def place(api: aiohttp.ClientSession, body: dict) -> dict:
    """Places an order and returns it once the institution has answered."""
    status, order = await post_json(api, "/v1/orders", body)
    assert status == 202, order
    return await settled(api, order["id"])


async def order_when(api: aiohttp.ClientSession, order_id: str, check: Callable[[dict], bool], what: str,
                     timeout: float = 30) -> dict:
    """The order once ``check`` holds for it (e.g. an institution's event has reached the gateway)."""
    async def ready() -> dict | None:
        order = await get_json(api, f"/v1/orders/{order_id}")
        return order if check(order) else None

    return await wait_for(ready, timeout, what=what)


async def settled(api: aiohttp.ClientSession, order_id: str, timeout: float = 30) -> dict:
    async def done() -> dict | None:
        order = await get_json(api, f"/v1/orders/{order_id}")
        return order if order["status"] not in ("requested", "sent") else None

    return await wait_for(done, timeout, what=f"order {order_id} to be answered")


# --- officers and the simulators' admin API -----------------------------------------------------

def officer_token(stack: Stack, officer: str = "OFFICER-A1", court: str = CASE["court"], roles: tuple[str, ...] = ALL_ROLES,
                  credentials: tuple[str, ...] = OFFICER_CREDENTIALS) -> str:
    return stack.token(officer, court, COURT_CODES[court], list(roles), credentials=credentials)


def officer_session(stack: Stack, officer: str, court: str, roles: tuple[str, ...] = ALL_ROLES,
                    credentials: tuple[str, ...] = OFFICER_CREDENTIALS, api_url: str | None = None) -> aiohttp.ClientSession:
    """``api_url``: one gateway instance of several (``stack.api_urls``); the first by default."""
    token = officer_token(stack, officer, court, roles, credentials)
    return aiohttp.ClientSession(api_url or stack.api_url, headers={"Authorization": f"Bearer {token}"})


class Simulators:
    """The simulators' admin API: ground truth and behaviour (faults, latency)."""

    def __init__(self, stack: Stack | UpProcess, session: aiohttp.ClientSession) -> None:
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

    async def debit(self, institution_id: str, asset_id: str, amount_fen: int) -> dict[str, Any]:
        kind = institution_id.split("-")[0]
        return await self._call("POST", kind, f"/admin/institutions/{institution_id}/assets/{asset_id}/debit",
                                json={"amount_fen": amount_fen})

    async def payout(self, institution_id: str, claim_no: str, collected_fen: int) -> dict[str, Any]:
        """A court's cashier: ``collected_fen`` arrives for the applicant, and all no withholding holds is paid out to him."""
        return await self._call("POST", "court", f"/admin/institutions/{institution_id}/claims/{claim_no}/payout",
                                json={"collected_fen": collected_fen})

    async def lose_events(self, institution_id: str, count: int) -> dict[str, Any]:
        """The institution's next ``count`` events happen but never reach its feed."""
        kind = institution_id.split("-")[0]
        return await self._call("POST", kind, f"/admin/institutions/{institution_id}/events/lose", json={"count": count})

    async def sighting(self, institution_id: str, plate: str, place: str, region: str | None = None) -> dict[str, Any]:
        """A camera reads the plate: the vehicle office's feed reports it (``{"event"}``)."""
        return await self._call("POST", "vehicle", f"/admin/institutions/{institution_id}/sightings",
                                json={"plate": plate, "place": place, **({"region": region} if region else {})})

    async def check_in(self, institution_id: str, id_number: str, hotel: str, city: str) -> dict[str, Any]:
        """A person checks in at a hotel: the lodging registry's feed reports it."""
        return await self._call("POST", "lodging", f"/admin/institutions/{institution_id}/check-ins",
                                json={"id_number": id_number, "hotel": hotel, "city": city})

    async def advance(self, days: float) -> dict[str, Any]:
        """Moves the simulators' shared clock forward (lapses, promotions)."""
        return await self._call("POST", "bank", "/admin/clock/advance", json={"days": days})

    async def summary(self, kind: str) -> dict[str, Any]:
        return await self._call("GET", kind, "/admin/ledgers/summary")

    async def clock(self) -> dict[str, Any]:
        return await self._call("GET", "bank", "/admin/clock")

    async def feed_position(self, institution_id: str) -> dict[str, Any]:
        """``{institution_id, last_seq, pending_loss}``: the feed's seq, lost events included."""
        kind = institution_id.split("-")[0]
        return await self._call("GET", kind, f"/admin/institutions/{institution_id}/events")

    def signed(self, institution_id: str, method: str, path: str, body: Any = None) -> SignedRequest:
        """A partner request to the institution, signed with the stack's keys as a connector signs it."""
        data = b"" if body is None else orjson.dumps(body)
        keys = PartnerKeys(master=bytes.fromhex(self.stack.env["ASSETGW_PARTNER_MASTER_KEY"]))
        return SignedRequest(method, f"{self.url(institution_id.split('-')[0])}{path}", data,
                             {**sign_headers(keys, institution_id, method, path, data), "Content-Type": "application/json"})

    async def send(self, request: SignedRequest) -> tuple[int, Any]:
        """Sends (or sends again: a replay) a signed request; the status and the decoded body."""
        async with self.session.request(request.method, request.url, data=request.body, headers=request.headers) as r:
            return r.status, await r.json(content_type=None)


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str
    body: bytes
    headers: dict[str, str]


def control_body(order_id: str, asset: dict[str, Any], holder: str, credential: str, case: str, court: str = COURT_A,
                 **extra: Any) -> dict[str, Any]:
    """A freeze as the connectors send it to an institution (``POST /{inst}/controls``)."""
    return {
        "order_id": order_id, "type": "freeze", "court": court, "case_number": case,
        "asset": {"kind": asset["kind"], "id": asset_id(asset)}, "debtor_id_number": holder, "amount_fen": 100,
        "term_days": 30, "ruling_number": f"{case}之一", "notice_number": f"{case}-协执", "officer_credentials": [credential],
        "served_at": "2025-11-22T10:00:00+08:00", **extra,
    }


# --- watches and alerts -------------------------------------------------------------------------

def watch_body(case: str, debtor: Any, court: str = COURT_A, **extra: Any) -> dict[str, Any]:
    """A watch on the debtor of the case for 30 days (funds and vehicles unless ``kinds`` says)."""
    return {"case_number": case, "court": court, "debtor_id_number": debtor.id_number, "kinds": ["funds", "vehicle"],
            "until": (today_in_china() + timedelta(days=30)).isoformat(), "idempotency_key": uuid.uuid4().hex, **extra}


def watch_auto_freeze(case: str, credential: str) -> dict[str, Any]:
    """A funds watch's automatic freeze: its documents and term."""
    return {"ruling_number": f"{case}之三", "notice_number": f"{case}-协冻", "officer_credentials": [credential], "term_days": 90}


async def next_sse_alert(stream: aiohttp.ClientResponse, timeout: float = 30) -> tuple[int, dict[str, Any], int]:
    """The next ``alert`` event of a server-sent-event stream: (its id, its data, keep-alive comments before it)."""
    fields: dict[str, str] = {}
    heartbeats = 0
    async with asyncio.timeout(timeout):
        while True:
            line = (await stream.content.readline()).decode()
            if not line:
                raise AssertionError("the stream ended")
            line = line.rstrip("\n")
            if line == ": keep-alive":
                heartbeats += 1
            elif line == "" and "data" in fields:
                return int(fields["id"]), orjson.loads(fields["data"]), heartbeats
            elif line and not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value


# --- topics and metrics -------------------------------------------------------------------------

async def read_all(bootstrap: str, topic: str) -> list:
    """Every message on ``topic`` up to its end offsets as of now."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(tps)
        out: list = []
        while len(out) < sum(ends.values()):
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


async def connector_metrics(stack: Stack, kind: str) -> str:
    """The /metrics text of the connector worker for ``kind``."""
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{stack.metrics_ports[kind]}/metrics") as r:
        assert r.status == 200
        return await r.text()


def metric_total(text: str, name: str, labels: str = "") -> float:
    """The sum of a metric's samples whose label set matches the regex ``labels``."""
    pattern = re.compile(rf"^{name}\{{[^}}]*{labels}[^}}]*\}} (\S+)$", re.M)
    return sum(float(v) for v in pattern.findall(text))


# --- ops tools ----------------------------------------------------------------------------------

async def run_cli(stack: Stack, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, str]:
    """``assetgw ARGS`` as ops run it against the stack: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "assetgw.cli", *args, env={**stack.env, **(env or {})},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


def ops_settings(stack: Stack) -> Settings:
    """Settings as the stack's own processes read them, for calling the ops tools in-process."""
    with mock.patch.dict(os.environ, stack.env):
        return Settings.from_env()


async def rebuild_and_compare(stack: Stack, out: Path) -> dict[str, Any]:
    """Rebuilds the gateway's store from the stack's topics into ``out`` and compares it with the
    live store, table by table. The one place the tests read the gateway's database file."""
    rebuilt = await rebuild(ops_settings(stack), out)
    return compare(stack.data_dir / "gateway.sqlite3", rebuilt.path)


# --- assetgw up and assetgw inquire as processes --------------------------------------------------

class UpProcess:
    """A real ``assetgw up`` on free ports, as an operator runs it; its console lines are collected
    (a thread reads them, so the pipe never fills)."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assetgw.cli", "up", "--ports", "free", "--data-dir", str(data_dir), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "250", **(env or {})})
        self.lines: list[str] = []
        self.api_url, self.sim_ports, self.endpoints = "", {}, {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip("\n"))

    def said(self, needle: str, after: int = 0) -> str | None:
        """The first console line from index ``after`` on that contains ``needle``."""
        return next((line for line in self.lines[after:] if needle in line), None)

    async def started(self, timeout: float = 180) -> None:
        """Up once it has written its endpoints file (after every component is healthy)."""
        async def up() -> dict[str, Any] | None:
            if self.proc.poll() is not None:
                raise AssertionError("assetgw up exited:\n" + "\n".join(self.lines))
            return endpoints.read(self.data_dir) if self.said("written to ") else None

        self.endpoints = await wait_for(up, timeout, what="assetgw up to start")
        self.api_url = self.endpoints["api"]
        self.sim_ports = {k: URL(u).port for k, u in self.endpoints["simulators"].items()}

    def child(self, needle: str) -> int:
        """The pid of the child whose command line contains ``needle``."""
        for pid in subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if needle in cmdline:
                return int(pid)
        raise AssertionError(f"no child of assetgw up runs {needle}")

    def token(self, officer: str = "OFFICER-A1", court: str = COURT_A) -> str:
        from gateway.http.auth import TokenAuthority

        secret = (self.data_dir / "token.secret").read_text().strip().encode()
        return TokenAuthority(secret).issue(officer, court, COURT_CODES[court], list(ALL_ROLES), 3600, OFFICER_CREDENTIALS)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class CliProcess:
    """``assetgw ARGS`` running in the background, its stderr collected as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc, self.err = proc, ""
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, *args: str, env: dict[str, str] | None = None) -> CliProcess:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "assetgw.cli", *args, env={**os.environ, **(env or {})},
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(4096):
            self.err += chunk.decode(errors="replace")

    async def said(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        async def match() -> re.Match[str] | None:
            found = re.search(pattern, self.err)
            if found is None and self.proc.returncode is not None and self._reader.done():
                raise AssertionError(f"exited {self.proc.returncode} without saying {pattern!r}:\n{self.err}")
            return found

        return await wait_for(match, timeout, what=f"the command to say {pattern!r}")

    async def finished(self, timeout: float) -> int:
        await asyncio.wait_for(self.proc.wait(), timeout)
        await self._reader
        return self.proc.returncode or 0

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


def read_reports(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
