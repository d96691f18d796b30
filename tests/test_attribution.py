"""Inquiries are attributable: each records the authenticated officer and the credentials he
presented, which must be registered to him (his token carries them); inquiries, their debtors and
legs are append-only, only their progress moves. Old databases gain the officer column on open."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.http.auth import TokenAuthority
from gateway.store.factory import open_snapshot, open_store, store_path
from gateway.store.interfaces import InquiryRepository, LegQueue
from gateway.store.records import NewInquiry
from gateway.store.sqlite.store import SqliteStore
from schemas.debtor import Debtor
from schemas.directory import Institution
from schemas.identifiers import resident_id_check_digit
from tests.helpers import CASE, COURT_A, case_body, debtor_json, get_json, has_account, new_case_number, officer_session, open_case, order_body, pick

# -- tokens ----------------------------------------------------------------------------------------

def test_assetgw_token_carries_the_credentials_registered_to_the_officer() -> None:
    secret = "s" * 32
    result = subprocess.run([sys.executable, "-m", "assetgw.cli", "token", "--officer", "A1", "--court", COURT_A,
                             "--court-code", "冀0108", "--role", "officer", "--credential", "ZF00000001",
                             "--credential", "ZF00000002"],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "ASSETGW_TOKEN_SECRET": secret})
    assert result.returncode == 0, result.stderr
    officer = TokenAuthority(secret.encode()).verify("Bearer " + result.stdout.strip())
    assert officer.credentials == {"ZF00000001", "ZF00000002"}


# -- through the API -------------------------------------------------------------------------------


@pytest.fixture
def foreign(population: Any) -> str:
    """A credential the institutions know, registered to some officer other than the tests'."""
    return population.officer_credentials[5]


def stored_cases(stack: Any) -> set[str]:
    """The case numbers of every inquiry in the stack's store, read alongside the running gateway."""
    snapshot = open_snapshot(store_path(stack.data_dir))
    try:
        return {q.case_number for q in snapshot.inquiries()}
    finally:
        snapshot.close()


async def refusals_of(api: aiohttp.ClientSession, officer: str, path: str) -> list[dict]:
    return [a for a in await get_json(api, "/v1/ops/access-audit") if a["officer"] == officer and a["path"] == path]


async def test_an_inquiry_records_the_officer_who_asked(stack, population, credential) -> None:
    debtor = next(d for d in population.debtors if d.kind == "person")
    async with officer_session(stack, "OFFICER-AT1", COURT_A, credentials=(credential,)) as mine:
        async with mine.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential, institutions=["bank-01"],
                                                             case_number=new_case_number())) as r:
            assert r.status == 202, await r.text()
            accepted = await r.json()
        inquiry = await get_json(mine, accepted["location"])
    assert inquiry["officer"] == "OFFICER-AT1"
    assert inquiry["case"]["officer_credentials"] == [credential]


async def test_a_batch_records_the_officer_who_sent_it(stack, population, credential) -> None:
    people = [d for d in population.debtors if d.kind == "person"][:2]
    rows = [{**CASE, "case_number": new_case_number(), "officer_credentials": [credential], "institutions": ["bank-01"],
             "debtor": debtor_json(d)} for d in people]
    async with officer_session(stack, "OFFICER-AT2", COURT_A, credentials=(credential,)) as mine:
        async with mine.post("/v1/inquiry-batches", data=b"\n".join(map(orjson.dumps, rows)),
                             headers={"Content-Type": "application/x-ndjson"}) as r:
            assert r.status == 202, await r.text()
            batch = await r.json()
        async with mine.get(f"{batch['location']}/reports") as r:
            inquiry_ids = {orjson.loads(line)["inquiry_id"] for line in (await r.read()).splitlines()}
        assert len(inquiry_ids) == 2
        for inquiry_id in inquiry_ids:
            assert (await get_json(mine, f"/v1/inquiries/{inquiry_id}"))["officer"] == "OFFICER-AT2"


async def test_another_officers_credential_is_refused_audited_and_nothing_is_stored(stack, api, population, credential,
                                                                                    foreign) -> None:
    debtor = next(d for d in population.debtors if d.kind == "person")
    case = new_case_number()
    async with officer_session(stack, "OFFICER-AT3", COURT_A, credentials=(credential,)) as mine:
        # One of his own beside it does not make it his.
        body = {**case_body([debtor_json(debtor)], credential, case_number=case), "officer_credentials": [credential, foreign]}
        async with mine.post("/v1/inquiries", json=body) as r:
            refused = await r.json()
    assert r.status == 403 and refused["error"] == "forbidden"
    assert [e["field"] for e in refused["errors"]] == ["officer_credentials"] and foreign in refused["message"]
    [entry] = await refusals_of(api, "OFFICER-AT3", "/v1/inquiries")
    assert entry["status"] == 403 and foreign in entry["reason"]
    assert case not in stored_cases(stack)


async def test_a_batch_row_with_another_officers_credential_refuses_the_batch_naming_the_line(stack, api, population,
                                                                                            credential, foreign) -> None:
    people = [d for d in population.debtors if d.kind == "person"][:3]
    cases = [new_case_number() for _ in people]
    rows = [{**CASE, "case_number": case, "officer_credentials": [credential], "debtor": debtor_json(d)}
            for case, d in zip(cases, people, strict=False)]
    rows[1]["officer_credentials"] = [foreign]
    async with (officer_session(stack, "OFFICER-AT4", COURT_A, credentials=(credential,)) as mine,
                mine.post("/v1/inquiry-batches", data=b"\n".join(map(orjson.dumps, rows)),
                          headers={"Content-Type": "application/x-ndjson"}) as r):
        refused = await r.json()
    assert r.status == 403 and [e["field"] for e in refused["errors"]] == ["line 2: officer_credentials"]
    [entry] = await refusals_of(api, "OFFICER-AT4", "/v1/inquiry-batches")
    assert entry["status"] == 403 and foreign in entry["reason"]
    assert not set(cases) & stored_cases(stack)


async def test_an_order_or_freeze_plan_with_another_officers_credential_is_refused_and_not_placed(stack, api, population,
                                                                                                credential, foreign) -> None:
    debtor = pick(population, has_account(10_000))
    async with officer_session(stack, "OFFICER-AT5", COURT_A, credentials=(credential,)) as mine:
        case, assets = await open_case(mine, debtor, credential)
        account = next(a for a in assets if a["kind"] == "deposit")
        order = order_body("freeze", case, COURT_A, account, foreign, amount_fen=1_000, term_days=365, operator="OFFICER-AT5")
        async with mine.post("/v1/orders", json=order) as r:
            refused = await r.json()
        assert r.status == 403 and [e["field"] for e in refused["errors"]] == ["officer_credentials"]
        plan = {"court": COURT_A, "ruling_number": f"{case}之二", "notice_number": f"{case}-协执",
                "officer_credentials": [foreign], "execute": True, "idempotency_key": order["idempotency_key"] + "-plan"}
        async with mine.post(f"/v1/cases/{case}/freeze-plan", json=plan) as r:
            refused = await r.json()
        assert r.status == 403 and [e["field"] for e in refused["errors"]] == ["officer_credentials"]
        # Nothing was placed under the key: with his own credential, the same key places a new order.
        async with mine.post("/v1/orders", json={**order, "officer_credentials": [credential]}) as r:
            assert r.status == 202 and not (await r.json())["replayed"]
    assert [e["status"] for e in await refusals_of(api, "OFFICER-AT5", "/v1/orders")] == [403]
    assert [e["status"] for e in await refusals_of(api, "OFFICER-AT5", f"/v1/cases/{case}/freeze-plan")] == [403]


# -- the store ---------------------------------------------------------------------------------------

BANK = Institution("bank-01", "bank", "银行一")


def new_inquiry(inquiry_id: str, officer_id: str | None = "OFFICER-A1") -> NewInquiry:
    first17 = "13010519800101001"
    return NewInquiry(
        id=inquiry_id, batch_id=None, case_number="(2025)冀0108执4502号", court=COURT_A, amount_due_fen=1_000, costs_fen=0,
        notice_number="n-1", officer_credentials=["CRED-1"], officer_id=officer_id, created_at=1, deadline=60_000,
        debtors=[Debtor(kind="person", id_number=first17 + resident_id_check_digit(first17), name="债务人")],
        institutions=[BANK],
    )


@pytest.mark.parametrize("repository", [InquiryRepository, LegQueue])
def test_no_repository_of_inquiries_or_legs_offers_a_way_to_remove_them(repository: type) -> None:
    methods = {name for name in vars(repository) if not name.startswith("_")}
    assert methods and not {m for m in methods for word in ("delete", "remove", "purge", "drop", "erase") if word in m}


REFUSED = [
    "DELETE FROM inquiries",
    "DELETE FROM debtors",
    "DELETE FROM legs",
    "UPDATE debtors SET name = 'x'",
    *(f"UPDATE inquiries SET {column} = {column}" for column in (
        "id", "batch_id", "case_number", "court", "amount_due_fen", "costs_fen", "notice_number", "officer_credentials",
        "officer_id", "created_at", "deadline", "legs_total")),
    *(f"UPDATE legs SET {column} = {column}" for column in (
        "id", "inquiry_id", "debtor_seq", "institution_id", "institution_kind")),
]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "gateway.sqlite3")
    store.inquiries.add([new_inquiry("q1")])
    yield store
    store.close()


def as_stored(store: SqliteStore) -> tuple:  # type: ignore[type-arg]
    return store.inquiries.get("q1"), store.inquiries.debtors("q1"), store.inquiries.legs("q1")


@pytest.mark.parametrize("statement", REFUSED)
def test_sqlite_refuses_deleting_or_rewriting_what_was_asked(sqlite_store: SqliteStore, statement: str) -> None:
    before = as_stored(sqlite_store)
    with pytest.raises(sqlite3.IntegrityError, match=r"append-only|fixed once recorded"):
        sqlite_store.connection.execute(statement)
    assert as_stored(sqlite_store) == before


def test_progress_still_moves(sqlite_store: SqliteStore) -> None:
    [leg] = sqlite_store.legs.claim_pending(10)
    sqlite_store.legs.mark_sent([leg.id], now=10)
    assert sqlite_store.legs.expire_overdue(now=60_000) == ["q1"]
    q = sqlite_store.inquiries.get("q1")
    assert (q.legs_done, q.completed_at, q.officer_id) == (1, 60_000, "OFFICER-A1")  # type: ignore[union-attr]
    assert [leg.status for leg in sqlite_store.inquiries.legs("q1")] == ["timed_out"]


# The inquiries table as databases made before inquiries recorded their officer have it.
OLD_INQUIRIES = """
CREATE TABLE inquiries (
    id TEXT PRIMARY KEY, batch_id TEXT, case_number TEXT NOT NULL, court TEXT NOT NULL,
    amount_due_fen INTEGER NOT NULL, costs_fen INTEGER NOT NULL, notice_number TEXT NOT NULL,
    officer_credentials TEXT NOT NULL, created_at INTEGER NOT NULL, deadline INTEGER NOT NULL,
    legs_total INTEGER NOT NULL, legs_done INTEGER NOT NULL DEFAULT 0, completed_at INTEGER);
INSERT INTO inquiries VALUES ('old', NULL, '(2025)冀0108执1号', '石家庄市裕华区人民法院', 100, 0, 'n-0', '["CRED-0"]',
    1, 2, 0, 0, NULL);
"""


def test_an_old_database_gains_the_officer_column_on_open(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(OLD_INQUIRIES)
    old.close()
    for _ in range(2):  # opening again finds it done
        store = open_store(path)
        assert store.inquiries.get("old").officer_id is None  # type: ignore[union-attr]
        store.close()
    store = open_store(path)
    store.inquiries.add([new_inquiry("new", officer_id="OFFICER-A9")])
    assert store.inquiries.get("new").officer_id == "OFFICER-A9"  # type: ignore[union-attr]
    store.close()
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="fixed once recorded"):
        db.execute("UPDATE inquiries SET officer_id = 'OFFICER-X' WHERE id = 'old'")  # nobody fills it in afterwards
    db.close()
