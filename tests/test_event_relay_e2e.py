"""Institutions speak first, end to end: the connectors relay the institutions' event feeds to the
events topic and answer the gateway's control status queries, over real HTTP (the simulators,
signed) and the real Kafka protocol.

The stack's own connector workers are under test in the first tests. The restart and dead-letter
tests run the relay code in this process, against the stack's simulators and broker but on a
topic prefix of their own (so they can stop and start it at will, and read a topic only they
write), and for the dead letter against a stand-in institution whose feed serves a bad event."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import web

from assetgw.ops.dlq import list_dead_letters
from assetgw.stack.supervisor import Stack
from connectors.contract.transport import HttpTransport
from connectors.kinds.bank import BankConnector
from connectors.runtime.calls import InstitutionCalls
from connectors.runtime.cursors import FileCursorStore
from connectors.runtime.event_sink import EventSink
from connectors.runtime.events import EventRelay
from connectors.runtime.run import partner_keys
from infra.kafka.clients import Publisher, make_producer
from infra.kafka.topics import deadletter_topic, ensure_topics, institution_events_topic, order_results_topic, orders_topic
from infra.settings import Settings
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport, InstitutionEvent
from schemas.messages import decode, encode
from simulators.population import Population
from tests.helpers import (
    Simulators,
    connector_metrics,
    has_account,
    metric_total,
    open_case,
    ops_settings,
    pick,
    read_all,
    wait_for,
)


async def known_account(api: Any, population: Population, credential: str) -> dict[str, Any]:
    """An unprotected deposit the network knows of (reported to an inquiry), so its changes are news."""
    debtor = pick(population, has_account(10_000))
    _, assets = await open_case(api, debtor, credential)
    return next(a for a in assets if a["kind"] == "deposit" and not a["protected"])


async def events_of(bootstrap: str, topic: str, institution_id: str) -> list[tuple[bytes | None, InstitutionEvent]]:
    out = []
    for record in await read_all(bootstrap, topic):
        event = decode(record.value)[1]
        if isinstance(event, InstitutionEvent) and event.institution_id == institution_id:
            out.append((record.key, event))
    return out


@pytest.fixture
async def producer(stack: Stack) -> AsyncIterator[Publisher]:
    p = make_producer(ops_settings(stack), "test-event-relay")
    await p.start()
    yield p
    await p.stop()


# --- the stack's connectors ---------------------------------------------------------------------

async def test_funds_credited_reach_the_events_topic_keyed_by_the_account(stack: Stack, api: Any, population: Population,
                                                                          credential: str, simulators: Simulators) -> None:
    account = await known_account(api, population, credential)
    inst, number = account["institution_id"], account["account_no"]
    await simulators.credit(inst, number, 12_345)
    topic = institution_events_topic(ops_settings(stack).topic_prefix)

    async def relayed() -> list:
        return [(key, e) for key, e in await events_of(stack.kafka_bootstrap, topic, inst)
                if e.asset_id == number and e.type == "funds_credited" and e.amount_fen == 12_345]

    [(key, event)] = await wait_for(relayed, 30, interval=0.5, what="the credit on the events topic")
    assert key == f"{inst}/{number}".encode() and event.event_id == f"{inst}:{event.seq}"
    assert event.balance_fen == account["value_fen"] + 12_345
    metrics = await connector_metrics(stack, "bank")
    assert metric_total(metrics, "assetgw_events_relayed_total", f'institution="{inst}",type="funds_credited"') >= 1

    async def cursor_saved() -> bool:  # saved once the page is acknowledged, so just after the event is on the topic
        return metric_total(await connector_metrics(stack, "bank"), "assetgw_event_cursor", f'institution="{inst}"') >= event.seq

    await wait_for(cursor_saved, 10, interval=0.1, what="the feed cursor saved past the credit")


async def ask_status(stack: Stack, producer: Publisher, query: ControlStatusQuery, kind: str) -> ControlStatusReport:
    """Publishes the query as the gateway would, and waits for its one report."""
    prefix = ops_settings(stack).topic_prefix
    await producer.send_and_wait(orders_topic(prefix, kind), encode(query, run_id=query.run_id), key=query.institution_id.encode())

    async def report() -> list[ControlStatusReport]:
        return [decode(r.value)[1] for r in await read_all(stack.kafka_bootstrap, order_results_topic(prefix))
                if r.key == query.run_id.encode()]

    reports = await wait_for(report, 60, interval=0.5, what=f"the status report of {query.run_id}")
    assert len(reports) == 1, reports  # exactly one report per query
    return reports[0]


async def test_a_status_query_is_answered_with_the_institution_s_state(stack: Stack, api: Any, population: Population,
                                                                       credential: str, producer: Publisher) -> None:
    account = await known_account(api, population, credential)
    inst, number = account["institution_id"], account["account_no"]
    query = ControlStatusQuery(run_id=uuid.uuid4().hex, institution_id=inst, freeze_ids=["NO-SUCH-FREEZE"], asset_ids=[number])
    report = await ask_status(stack, producer, query, "bank")
    if report.status == "failed" and "HTTP 404" in (report.reason or ""):
        pytest.skip("the simulators serve no /controls/status yet (it comes with branch sim)")
    assert report.status == "answered", report.reason
    assert report.run_id == query.run_id and report.institution_id == inst
    assert report.unknown_freeze_ids == ["NO-SUCH-FREEZE"] and report.freezes == []
    assert [(b.asset_id, b.balance_fen >= account["value_fen"]) for b in report.balances] == [(number, True)]


async def test_a_status_query_to_an_institution_that_is_down_gets_a_failed_report(stack: Stack, producer: Publisher,
                                                                                  simulators: Simulators) -> None:
    query = ControlStatusQuery(run_id=uuid.uuid4().hex, institution_id="payment-02", freeze_ids=["F-1"])
    await simulators.behave("payment-02", error_rate=1)  # what `assetgw simulator-fault payment-02 --error-rate 1` sets
    try:
        report = await ask_status(stack, producer, query, "payment")
    finally:
        await simulators.reset("payment-02")
    assert report.status == "failed" and report.institution_id == "payment-02" and report.run_id == query.run_id
    assert "attempts" in (report.reason or "") and report.freezes == []


# --- the relay in this process: restart and dead letters ----------------------------------------

class LocalRelay:
    """The relay code of the connector worker, for one institution, on the test's own prefix."""

    def __init__(self, settings: Settings, producer: Publisher, institution: Institution, base_url: str, signed: bool) -> None:
        self.settings = settings
        keys = partner_keys() if signed else None
        self.connector = BankConnector(HttpTransport(base_url, keys=keys))
        self.cursors = FileCursorStore(settings.data_dir / "connector-cursors")
        self.relay = EventRelay(self.connector, [institution], settings, InstitutionCalls(settings),
                                EventSink(producer, settings.topic_prefix, consumer="test.relay"), self.cursors)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.relay.run(self.stop))

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)
        await self.connector.aclose()


@pytest.fixture
async def local(stack: Stack, tmp_path: Path) -> AsyncIterator[tuple[Settings, Publisher]]:
    """Settings on a topic prefix of this test's own, with its own cursor directory, and a producer."""
    with mock.patch.dict(os.environ, stack.env):  # the stack's partner keys, for signing
        settings = dataclasses.replace(Settings.from_env(), topic_prefix=f"relay{uuid.uuid4().hex[:8]}", data_dir=tmp_path,
                                       call_timeout_s=2.0)
        await ensure_topics(settings.kafka_bootstrap, settings.topic_prefix, 2)
        producer = make_producer(settings, "test-local-relay")
        await producer.start()
        try:
            yield settings, producer
        finally:
            await producer.stop()


async def test_a_restarted_relay_loses_nothing_and_repeats_nothing_it_had_saved(
        local: tuple[Settings, Publisher], stack: Stack, api: Any, population: Population, credential: str,
        simulators: Simulators) -> None:
    settings, producer = local
    account = await known_account(api, population, credential)
    institution = settings.directory.by_id[account["institution_id"]]
    topic = institution_events_topic(settings.topic_prefix)
    mine = []  # (amount) of the credits this test makes

    async def credit(n: int) -> None:
        for _ in range(n):
            mine.append(1_000 + len(mine))
            await simulators.credit(institution.id, account["account_no"], mine[-1])

    async def relayed_all() -> list | None:
        """Every credit made so far on the topic, and the cursor saved past them (it follows the acks)."""
        events = await events_of(stack.kafka_bootstrap, topic, institution.id)
        got = {e.amount_fen for _, e in events if e.asset_id == account["account_no"] and e.type == "funds_credited"}
        done = set(mine) <= got and relay.cursors.load(institution.id) >= max(e.seq for _, e in events)
        return events if done else None

    with mock.patch.dict(os.environ, stack.env):
        relay = LocalRelay(settings, producer, institution, settings.simulator_urls["bank"], signed=True)
        await credit(3)
        await wait_for(relayed_all, 30, interval=0.5, what="the first credits relayed")
        await relay.halt()
        saved = relay.cursors.load(institution.id)
        assert saved >= 3

        await credit(2)  # while no relay runs
        relay = LocalRelay(settings, producer, institution, settings.simulator_urls["bank"], signed=True)
        try:
            events = await wait_for(relayed_all, 30, interval=0.5, what="the credits made while it was stopped")
        finally:
            await relay.halt()
    copies: dict[int, int] = {}
    for key, event in events:
        copies[event.seq] = copies.get(event.seq, 0) + 1
        assert key == f"{institution.id}/{event.asset_id}".encode()
    # Every credit arrived (relayed_all), made before the stop or while stopped: nothing lost; and
    # what the first relay had saved is never relayed again.
    assert all(n == 1 for seq, n in copies.items() if seq <= saved), copies


BAD_FEED = [
    {"event_id": "bank-01:1", "seq": 1, "institution_id": "bank-01", "type": "funds_credited", "at": "2025-06-01T08:00:00+08:00",
     "asset_kind": "deposit", "asset_id": "6222020000000000001", "amount_fen": 100, "balance_fen": 200},
    {"event_id": "bank-01:2", "seq": 2, "institution_id": "bank-01", "type": "rumour_heard", "at": "2025-06-01T08:01:00+08:00",
     "asset_id": "6222020000000000001"},
    {"event_id": "bank-01:3", "seq": 3, "institution_id": "bank-01", "type": "funds_debited", "at": "2025-06-01T08:02:00+08:00",
     "asset_kind": "deposit", "asset_id": "6222020000000000001", "amount_fen": 50, "balance_fen": 150},
]


@pytest.fixture
async def stand_in_bank() -> AsyncIterator[str]:
    """A stand-in institution whose feed holds a bad event between two good ones (the simulators
    only make valid ones), over real HTTP."""
    async def feed(request: web.Request) -> web.Response:
        after = int(request.query.get("after", "0"))
        page = [e for e in BAD_FEED if e["seq"] > after]
        if not page:
            await asyncio.sleep(min(float(request.query.get("wait", "0")), 1.0))
        return web.json_response({"events": page, "next": page[-1]["seq"] if page else after})

    app = web.Application()
    app.router.add_get("/{inst}/events", feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]  # the port chosen for 0
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_bad_event_is_dead_lettered_where_assetgw_dlq_shows_it(local: tuple[Settings, Publisher], stack: Stack,
                                                                       stand_in_bank: str) -> None:
    settings, producer = local
    relay = LocalRelay(settings, producer, settings.directory.by_id["bank-01"], stand_in_bank, signed=False)
    try:
        events = await wait_for(lambda: events_of(stack.kafka_bootstrap, institution_events_topic(settings.topic_prefix), "bank-01"),
                                30, interval=0.5, what="the good events")
        letters = await wait_for(lambda: list_dead_letters(settings, progress=False), 30, interval=0.5, what="the dead letter")
        await wait_for(lambda: asyncio.sleep(0, relay.cursors.load("bank-01") == 3), 10, what="the cursor past the bad event")
    finally:
        await relay.halt()
    assert sorted(e.seq for _, e in events) == [1, 3]
    [letter] = letters
    assert "type" in letter.reason and letter.header("dlq.origin") == "bank-01/events#2"
    assert letter.source_topic == institution_events_topic(settings.topic_prefix)  # a redrive sends it on there
    assert letter.as_dict()["consumer"] == "test.relay" and letter.key == b"bank-01/6222020000000000001"
    assert deadletter_topic(settings.topic_prefix) == letter.topic
