"""Banks that poll for work (issue 19 item 6), through the real chain: the connector writes zipped,
signed batch files into each bank's inbox on the stack's SFTP server (``assetgw exchange``), the
simulated bank polls, answers from the same ledgers and ground truth as the JSON banks, and the
connector collects the answers and failure receipts. Reports equal the ground truth, a freeze and a
deduction move the ledger to the fen, a file sent twice has one effect, a tampered file comes back
with a failure receipt that fails its leg with the reason, and a bank that stops polling leaves its
legs waiting, then timed out at the deadline."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from schemas.directory import Directory
from schemas.file_exchange import INBOX, NETWORK_USER, REQUEST, FileName, login_password, pack, request_id
from schemas.messages import new_id
from schemas.sftp_client import ExchangeLogin
from schemas.signing import PartnerKeys
from tests.helpers import (
    ACCOUNT_A,
    COURT_A,
    assert_matches_truth,
    case_body,
    control_body,
    debtor_json,
    get_json,
    new_case_number,
    open_case,
    order_body,
    pick,
    place,
    post_json,
    settled,
    wait_for,
    wait_inquiry,
)

pytestmark = pytest.mark.e2e

POLLING = [i.id for i in Directory.from_counts().polling()]  # bank-17 … bank-22


def test_the_last_six_banks_poll() -> None:
    directory = Directory.from_counts()
    assert [f"bank-{n}" for n in range(17, 23)] == POLLING
    assert not any(i.polls for i in directory.institutions if i.id not in POLLING)
    assert Directory.from_counts(polling_banks=0).polling() == []


def _polling_deposit(min_fen: int = 0):  # type: ignore[no-untyped-def]
    return lambda assets: any(a.kind == "deposit" and a.institution_id in POLLING and not a.protected and a.value_fen >= min_fen
                              for a in assets)


@pytest.fixture
async def network(stack: Any) -> AsyncIterator[ExchangeLogin]:
    """The network's own login to the exchange, with the stack's keys (what the connector uses)."""
    keys = PartnerKeys(master=bytes.fromhex(stack.env["ASSETGW_PARTNER_MASTER_KEY"]))
    host, _, port = stack.env["ASSETGW_EXCHANGE"].rpartition(":")
    login = ExchangeLogin(NETWORK_USER, login_password(keys, NETWORK_USER), (host, int(port)))
    yield login
    await login.aclose()


def _keys(stack: Any) -> PartnerKeys:
    return PartnerKeys(master=bytes.fromhex(stack.env["ASSETGW_PARTNER_MASTER_KEY"]))


async def test_report_through_polling_banks_equals_ground_truth(api, simulators, population, credential) -> None:
    debtor = pick(population, lambda assets: _polling_deposit()(assets) and any(
        a.kind == "deposit" and a.institution_id not in POLLING for a in assets))
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential)) as r:
        assert r.status == 202, await r.text()
        accepted = await r.json()
    inquiry = await wait_inquiry(api, accepted["location"])
    [report] = inquiry["reports"]
    assert {leg["status"] for leg in report["legs"]} <= {"found", "not_found"}
    polled = [leg for leg in report["legs"] if leg["institution_id"] in POLLING]
    assert len(polled) == len(POLLING) and any(leg["status"] == "found" for leg in polled)
    assert all("waiting_for" not in leg for leg in report["legs"])  # answered: nothing waits
    await assert_matches_truth(report, simulators)
    # The polling banks take no calls: their HTTP API refuses even a correctly signed request.
    status, body = await simulators.send(simulators.signed(POLLING[0], "POST", f"/{POLLING[0]}/controls/status", {}))
    assert status == 404 and body["error"] == "polling_institution", body


async def test_freeze_and_deduction_through_a_polling_bank(api, officers, simulators, population, credential) -> None:
    approver = officers("OFFICER-A2", COURT_A)
    debtor = pick(population, _polling_deposit(20_000))
    case, assets = await open_case(api, debtor, credential, COURT_A)
    account = max((a for a in assets if a["kind"] == "deposit" and a["institution_id"] in POLLING and not a.get("protected")),
                  key=lambda a: a["value_fen"])
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=10_000, term_days=300))
    assert freeze["status"] == "applied" and freeze["result"]["held_fen"] == 10_000, freeze
    status, placed = await post_json(api, "/v1/orders", order_body(
        "deduct", case, COURT_A, account, credential, amount_fen=4_000, original_order_id=freeze["id"], enforcement_account=ACCOUNT_A))
    assert status == 202 and placed["awaiting_approval"], placed
    status, _ = await post_json(approver, f"/v1/orders/{placed['id']}/approve", {})
    assert status == 200
    done = await settled(api, placed["id"])
    assert done["status"] == "applied" and done["result"]["deducted_fen"] == 4_000, done
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    assert ledger["balance_fen"] == account["value_fen"] - 4_000
    assert [(d["amount_fen"], d["court"], d["enforcement_account"]) for d in ledger["deductions"]] == [(4_000, COURT_A, ACCOUNT_A)]
    assert [(f["court"], f["status"], f["held_fen"]) for f in ledger["freezes"]] == [(COURT_A, "applied", 6_000)]


async def test_a_request_file_sent_twice_has_one_effect(stack, network, simulators, population, credential) -> None:
    """The same freeze in two files, and the first file again under its own name once answered:
    the bank answers each, and the ledger holds one freeze."""
    debtor = pick(population, _polling_deposit(20_000))
    account = next(a for a in population.assets_of(debtor.id_number)
                   if a.kind == "deposit" and a.institution_id in POLLING and not a.protected and a.value_fen >= 20_000)
    bank, order_id = account.institution_id, new_id()
    body = control_body(order_id, account.model_dump(mode="json"), debtor.id_number, credential, new_case_number())
    path = f"/{bank}/controls"
    requests = [{"request_id": request_id("POST", path, body), "method": "POST", "path": path, "body": body}]
    keys = _keys(stack)
    names = [FileName.new("KZ", REQUEST, bank, new_id()) for _ in range(2)]
    files = {name: pack(keys, name, requests) for name in names}

    async def send(name: FileName) -> None:
        await network.write(f"/{bank}/{INBOX}/{name}", files[name])

    for name in names:
        await send(name)
    for name in names:
        await wait_for(lambda name=name: _gone(network, bank, str(name)), 30, interval=0.1, what=f"{bank} to take {name}")
    await send(names[0])  # collected and answered once already: sent again
    await wait_for(lambda: _gone(network, bank, str(names[0])), 30, interval=0.1, what=f"{bank} to take {names[0]} again")
    ledger = await simulators.ledger(bank, account.account_no)
    mine = [f for f in ledger["freezes"] if f["freeze_id"] == order_id]
    assert len(mine) == 1 and mine[0]["held_fen"] == body["amount_fen"], ledger


def _tampered(raw: bytes) -> bytes:
    """The same zip with its requests changed by one byte and the signature left as it was."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            dst.writestr(item, data + b" " if item == "requests.json" else data)
    return out.getvalue()


async def test_a_tampered_file_comes_back_with_a_failure_receipt_and_fails_its_leg(api, network, simulators, population,
                                                                                    credential) -> None:
    bank = POLLING[-1]
    debtor = pick(population, lambda assets: True)
    try:  # not polling while the file is changed under it
        location, name = await _inquiry_in_the_inbox(api, network, simulators, bank, debtor, credential)
        raw = await network.read(f"/{bank}/{INBOX}/{name}")
        await network.remove(f"/{bank}/{INBOX}/{name}")
        await network.write(f"/{bank}/{INBOX}/{name}", _tampered(raw))
    finally:
        await simulators.reset(bank)
    inquiry = await wait_inquiry(api, location)
    [leg] = inquiry["reports"][0]["legs"]
    assert leg["status"] == "failed", leg
    assert f"{bank} sent back file {name}" in leg["reason"] and "signature refused: bad signature" in leg["reason"], leg


async def test_a_bank_that_stops_polling_leaves_its_legs_waiting_then_timed_out(api, simulators, population, credential) -> None:
    bank = POLLING[-2]
    debtor = pick(population, lambda assets: True)
    await simulators.behave(bank, hang=True)
    try:
        started = time.monotonic()
        body = case_body([debtor_json(debtor)], credential, institutions=[bank, "bank-01"], deadline_seconds=8)
        status, accepted = await post_json(api, "/v1/inquiries", body)
        assert status == 202, accepted

        async def bank_01_answered() -> dict | None:
            inquiry = await get_json(api, accepted["location"])
            legs = {leg["institution_id"]: leg for leg in inquiry["reports"][0]["legs"]}
            return legs if legs["bank-01"]["status"] in ("found", "not_found") else None

        legs = await wait_for(bank_01_answered, 30, what="bank-01's answer")
        if time.monotonic() - started < 7:  # still before the deadline: the polling bank's leg is waiting, not failed
            assert legs[bank]["status"] in ("pending", "sent") and "next poll" in legs[bank]["waiting_for"], legs[bank]
        inquiry = await wait_inquiry(api, accepted["location"], timeout=60)
    finally:
        await simulators.reset(bank)
    legs = {leg["institution_id"]: leg for leg in inquiry["reports"][0]["legs"]}
    assert legs[bank]["status"] == "timed_out", legs[bank]
    assert "waiting_for" not in legs[bank]


@pytest.mark.isolated
async def test_a_connector_restart_mid_exchange_loses_nothing(stack, api, network, simulators, population, credential) -> None:
    """The request file is in the inbox when the bank connector is killed; the bank answers while no
    connector collects; the restarted connector is handed the legs again, asks with the same
    request ids, and the answer already in the outbox serves them."""
    bank = POLLING[0]
    debtor = pick(population, lambda assets: any(a.kind == "deposit" and a.institution_id == bank for a in assets))
    try:
        location, name = await _inquiry_in_the_inbox(api, network, simulators, bank, debtor, credential)
        stack.kill("connector-bank")
    finally:
        await simulators.reset(bank)
    await wait_for(lambda: _gone(network, bank, name), 30, interval=0.1, what=f"{bank} to answer {name}")
    await stack.restart("connector-bank")
    inquiry = await wait_inquiry(api, location, timeout=90)
    [leg] = inquiry["reports"][0]["legs"]
    assert leg["status"] == "found", leg
    truth = [a["account_no"] for a in await simulators.truth(debtor.id_number) if a["institution_id"] == bank]
    assert sorted(a["account_no"] for a in inquiry["reports"][0]["assets"]["deposit"]) == sorted(truth)


async def _inquiry_in_the_inbox(api: Any, network: ExchangeLogin, simulators: Any, bank: str, debtor: Any,
                                credential: str) -> tuple[str, str]:
    """Stops ``bank`` polling (the caller resets it), asks it alone about ``debtor``, and returns the
    inquiry's location and the name of the request file the connector wrote for it."""
    await simulators.behave(bank, hang=True)
    before = set(await network.names(f"/{bank}/{INBOX}"))
    status, accepted = await post_json(api, "/v1/inquiries", case_body([debtor_json(debtor)], credential, institutions=[bank]))
    assert status == 202, accepted

    async def written() -> list[str]:
        return [n for n in await network.names(f"/{bank}/{INBOX}") if n.startswith("CXQQ") and n not in before]

    [name] = await wait_for(written, 30, interval=0.05, what="the connector's request file")
    return accepted["location"], name


async def _gone(network: ExchangeLogin, bank: str, name: str) -> bool:
    return name not in await network.names(f"/{bank}/{INBOX}")
