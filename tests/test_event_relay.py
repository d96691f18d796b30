"""The connectors' side of "institutions speak first", unit by unit: the cursor store, reading a
feed page and a status answer, the relay (publish keyed by asset, dead-letter bad events, save the
cursor only after the broker acknowledged), status reports and the lodging connector. The
institution here is a Transport double (as httpx's mock transport) and Kafka the in-memory bus;
the real simulators and broker are in tests/test_event_relay_e2e.py."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from connectors.contract.base import Permanent, Refused, Retryable
from connectors.contract.transport import Reply
from connectors.kinds.bank import BankConnector
from connectors.kinds.feed import read_feed
from connectors.kinds.lodging import LodgingRegistryConnector
from connectors.kinds.payment import PaymentAppConnector
from connectors.runtime.calls import InstitutionCalls
from connectors.runtime.cursors import FileCursorStore
from connectors.runtime.event_sink import EventSink, RejectedEvent, check_event
from connectors.runtime.events import EventRelay
from connectors.runtime.status import StatusReporter
from connectors.runtime.worker import ConnectorWorker
from infra.settings import Settings
from schemas.debtor import Debtor
from schemas.directory import Institution
from schemas.events import ControlStatusQuery
from schemas.messages import LegBatch, LegItem, UndecodableMessage, decode, utcnow
from tests.helpers import wait_for
from tests.memory_bus import MemoryBus, MemoryConsumer, MemoryProducer

PREFIX = "unit"
EVENTS, DLQ = f"{PREFIX}.institution.events", f"{PREFIX}.deadletter"
BANK = Institution("bank-01", "bank", "中国工商银行")
COURT = "石家庄市裕华区人民法院"


def credited(seq: int, account: str = "6222020000000000001", institution: str = "bank-01", **extra: Any) -> dict[str, Any]:
    return {"event_id": f"{institution}:{seq}", "seq": seq, "institution_id": institution, "type": "funds_credited",
            "at": "2025-06-01T08:00:00+08:00", "asset_kind": "deposit", "asset_id": account, "amount_fen": 100 * seq,
            "balance_fen": 1000 + 100 * seq, **extra}


class Institutions:
    """A Transport double: the event feed (long-polled) and the status endpoint of one institution,
    and a switch to make it answer 503."""

    def __init__(self) -> None:
        self.feed: list[Any] = []
        self.status_answer: Any = {"as_of_seq": 0, "freezes": [], "unknown_freeze_ids": [], "balances": []}
        self.down = False
        self.paths: list[str] = []
        self._appended = asyncio.Condition()

    async def append(self, *events: Any) -> None:
        async with self._appended:
            self.feed.extend(events)
            self._appended.notify_all()

    async def send(self, method: str, path: str, json: Any | None = None) -> Reply:
        self.paths.append(path)
        if self.down:
            return Reply(503, {}, {"error": "unavailable"})
        url = urlsplit(path)
        if url.path.endswith("/controls/status") or (json or {}).get("method") == "court.wallet.control_status":
            return Reply(200, {}, self.status_answer)
        query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
        after, limit = query.get("after", 0), query.get("limit", 100)
        async with self._appended:  # a long-poll: answer as soon as there is an event after the cursor
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._appended.wait_for(lambda: len(self.feed) > after), query.get("wait", 0))
        page = self.feed[after:after + limit]
        return Reply(200, {}, {"events": page, "next": after + len(page)})

    async def aclose(self) -> None:
        pass


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return dataclasses.replace(Settings.from_env(), call_attempts=2, call_timeout_s=1.0, data_dir=tmp_path, breaker_cool_down_s=0.2)


@pytest.fixture
def bus() -> MemoryBus:
    return MemoryBus(partitions=4)


@pytest.fixture
def institution() -> Institutions:
    return Institutions()


class CountingProducer(MemoryProducer):
    """Counts the sends refused while the in-memory broker is unreachable."""

    refused = 0

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().send_and_wait(*args, **kwargs)
        except Exception:
            self.refused += 1
            raise


class Relay:
    """A relay of bank-01's feed onto the bus, started and stopped as the worker would."""

    def __init__(self, settings: Settings, bus: MemoryBus, institution: Institutions) -> None:
        self.producer = CountingProducer(bus)
        self.cursors = FileCursorStore(settings.data_dir / "connector-cursors")
        self.relay = EventRelay(BankConnector(institution), [BANK], settings, InstitutionCalls(settings),
                                EventSink(self.producer, PREFIX, consumer="unit.relay"), self.cursors)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.relay.run(self.stop))

    async def halt(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 5)


@pytest.fixture
async def relay(settings: Settings, bus: MemoryBus, institution: Institutions) -> AsyncIterator[Relay]:
    r = Relay(settings, bus, institution)
    yield r
    if r.task is not None and not r.task.done():
        await r.halt()


def relayed(bus: MemoryBus, topic: str = EVENTS) -> list[dict[str, Any]]:
    return [decode(r.value)[1].model_dump(mode="json") if topic == EVENTS else orjson.loads(r.value)["payload"]
            for r in bus.values(topic)]


async def until(predicate: Any, what: str) -> Any:
    async def check() -> Any:
        return predicate()
    return await wait_for(check, 10, interval=0.02, what=what)


# --- the cursor store ---------------------------------------------------------------------------

def test_a_cursor_is_saved_atomically_and_read_back(tmp_path: Path) -> None:
    store = FileCursorStore(tmp_path / "cursors")
    assert store.load("bank-01") == 0  # none yet: the feed from the start
    store.save("bank-01", 17)
    store.save("bank-01", 42)
    assert store.load("bank-01") == 42 and store.load("bank-02") == 0
    assert sorted(p.name for p in (tmp_path / "cursors").iterdir()) == ["bank-01.json"]  # no temporary file left
    assert orjson.loads((tmp_path / "cursors" / "bank-01.json").read_bytes())["institution_id"] == "bank-01"


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"institution_id": "bank-01", "after": -3}',
                                     b'{"institution_id": "bank-01", "after": "9"}', b'{"institution_id": "bank-02", "after": 9}',
                                     b'{"institution_id": "bank-01", "after": true}'])
def test_an_unreadable_cursor_reads_as_the_start_of_the_feed(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bank-01.json").write_bytes(content)
    assert FileCursorStore(tmp_path).load("bank-01") == 0  # safe: the gateway dedupes what is relayed again


def test_a_cursor_file_is_named_only_by_an_institution_id(tmp_path: Path) -> None:
    for bad in ("../etc/passwd", ".hidden", "a/b", ""):
        with pytest.raises(ValueError):
            FileCursorStore(tmp_path).save(bad, 1)


# --- feed pages, events and status answers on the wire ------------------------------------------

class Canned:
    def __init__(self, reply: Reply) -> None:
        self.reply, self.paths = reply, []

    async def send(self, method: str, path: str, json: Any | None = None) -> Reply:
        self.paths.append((method, path))
        return self.reply


async def test_a_feed_page_is_asked_with_cursor_limit_and_a_bounded_wait() -> None:
    canned = Canned(Reply(200, {}, {"events": [credited(5)], "next": 5}))
    page = await read_feed(canned, BANK, 4, 99.0, 500)
    assert canned.paths == [("GET", "/bank-01/events?after=4&limit=500&wait=30")] and page.next == 5 and len(page.events) == 1


@pytest.mark.parametrize("reply, error", [
    (Reply(503, {"Retry-After": "2"}, None), Retryable),
    (Reply(200, {}, b"garbled"), Retryable),
    (Reply(200, {}, {"events": "x", "next": 3}), Retryable),
    (Reply(200, {}, {"events": [], "next": "3"}), Retryable),
    (Reply(200, {}, {"events": [credited(1)], "next": 4}), Retryable),  # events, but next did not move
    (Reply(200, {}, {"events": [], "next": 1}), Permanent),  # the feed went backwards
    (Reply(404, {}, {"error": "unknown_institution"}), Permanent),
    (Reply(403, {}, {"error": "refused"}), Permanent),
])
async def test_a_feed_page_that_cannot_be_read_is_an_error_of_the_right_kind(reply: Reply, error: type) -> None:
    with pytest.raises(error):
        await read_feed(Canned(reply), BANK, 4, 10, 500)


def test_an_event_must_fit_the_contract_and_come_from_its_own_feed() -> None:
    assert check_event(credited(3), "bank-01").asset_id == "6222020000000000001"
    with pytest.raises(RejectedEvent, match="type"):
        check_event(credited(3, type="gossip"), "bank-01")
    with pytest.raises(RejectedEvent, match="captured_fen"):
        check_event(credited(3, captured_fen=5), "bank-01")  # unknown fields are not the contract
    with pytest.raises(RejectedEvent, match="in the feed of 'bank-01'"):
        check_event(credited(3, institution="bank-02"), "bank-01")
    with pytest.raises(RejectedEvent, match="event_id"):
        check_event(credited(3, event_id="bank-01:4"), "bank-01")
    with pytest.raises(RejectedEvent):
        check_event("not an object", "bank-01")


# --- the relay ----------------------------------------------------------------------------------

async def test_events_go_to_the_topic_keyed_by_asset_and_the_cursor_follows(relay: Relay, bus: MemoryBus,
                                                                          institution: Institutions) -> None:
    await institution.append(credited(1, "A"), credited(2, "B"), credited(3, "A"))
    relay.start()
    await until(lambda: len(bus.values(EVENTS)) == 3, "three events on the topic")
    records = bus.values(EVENTS)
    assert sorted(r.key for r in records) == [b"bank-01/A", b"bank-01/A", b"bank-01/B"]
    by_key = {}
    for r in records:  # one asset's events on one partition, in feed order
        by_key.setdefault(r.key, []).append((r.partition, decode(r.value)[1].seq))
    assert by_key[b"bank-01/A"] == [(by_key[b"bank-01/A"][0][0], 1), (by_key[b"bank-01/A"][0][0], 3)]
    await until(lambda: relay.cursors.load("bank-01") == 3, "the cursor at 3")
    await institution.append(credited(4, "B"))  # the long-poll answers as soon as it exists
    await until(lambda: len(bus.values(EVENTS)) == 4, "the fourth event")
    await until(lambda: relay.cursors.load("bank-01") == 4, "the cursor at 4")
    assert any("wait=10" in p for p in institution.paths)


async def test_a_bad_event_is_dead_lettered_with_its_reason_and_the_feed_moves_on(relay: Relay, bus: MemoryBus,
                                                                                 institution: Institutions) -> None:
    await institution.append(credited(1), credited(2, type="gossip"), credited(3, institution="bank-02"), credited(4))
    relay.start()
    await until(lambda: len(bus.values(DLQ)) == 2 and len(bus.values(EVENTS)) == 2, "two events and two dead letters")
    assert [decode(r.value)[1].seq for r in bus.values(EVENTS)] == [1, 4]
    letters = bus.values(DLQ)
    headers = [dict(r.headers) for r in letters]
    assert sorted(h["dlq.origin"] for h in headers) == [b"bank-01/events#2", b"bank-01/events#3"]
    assert all(h["dlq.source.topic"] == EVENTS.encode() and h["dlq.consumer"] == b"unit.relay" for h in headers)
    reasons = sorted(h["dlq.reason"].decode() for h in headers)
    assert "type" in reasons[1] and "in the feed of 'bank-01'" in reasons[0]
    # The letter is the envelope the event would have travelled in, for a redrive after a fix.
    assert {orjson.loads(r.value)["type"] for r in letters} == {"institution.event"}
    await until(lambda: relay.cursors.load("bank-01") == 4, "the cursor past the bad events")


async def test_the_cursor_waits_for_the_broker_and_a_restart_repeats_nothing_saved(settings: Settings, relay: Relay, bus: MemoryBus,
                                                                                   institution: Institutions) -> None:
    relay.producer.failing = True  # the broker is unreachable: nothing acknowledged, so the cursor stays
    await institution.append(credited(1), credited(2))
    relay.start()
    await until(lambda: relay.producer.refused >= 3, "the page sent again and again")
    assert relay.cursors.load("bank-01") == 0 and bus.values(EVENTS) == []
    relay.producer.failing = False
    await until(lambda: relay.cursors.load("bank-01") == 2, "the cursor once acknowledged")
    await relay.halt()

    await institution.append(credited(3), credited(4))
    again = Relay(settings, bus, institution)  # a new process: the same cursor directory
    again.start()
    try:
        await until(lambda: len(bus.values(EVENTS)) == 4, "the events after the saved cursor")
    finally:
        await again.halt()
    assert sorted(decode(r.value)[1].seq for r in bus.values(EVENTS)) == [1, 2, 3, 4]  # none lost, none repeated


async def test_a_failing_feed_is_retried_after_a_pause_and_nothing_is_lost(relay: Relay, bus: MemoryBus,
                                                                           institution: Institutions) -> None:
    institution.down = True
    await institution.append(credited(1))
    relay.start()
    await until(lambda: len(institution.paths) >= 2, "polls while it is down")
    institution.down = False
    await until(lambda: len(bus.values(EVENTS)) == 1, "the event once the institution is back")


# --- status queries -----------------------------------------------------------------------------

def query(institution_id: str = "bank-01") -> ControlStatusQuery:
    return ControlStatusQuery(run_id="run-1", institution_id=institution_id, freeze_ids=["F1", "F2"], asset_ids=["A"])


ANSWER = {
    "as_of_seq": 12, "unknown_freeze_ids": ["F2"], "balances": [{"asset_id": "A", "balance_fen": 500, "currency": "CNY"}],
    "freezes": [{"freeze_id": "F1", "court": COURT, "status": "applied", "held_fen": 400, "requested_fen": 400,
                 "deducted_fen": 0, "queue_position": None, "start_date": "2025-06-01", "end_date": "2026-06-01",
                 "case_number": "(2025)冀0108执1号"}],  # a field the contract does not name is ignored
}


@pytest.mark.parametrize("connector", [BankConnector, PaymentAppConnector])
async def test_a_status_answer_becomes_an_answered_report(settings: Settings, institution: Institutions, connector: Any) -> None:
    inst = settings.directory.by_id["bank-01" if connector is BankConnector else "payment-01"]
    institution.status_answer = ANSWER if connector is BankConnector else {"code": "10000", "msg": "Success", "data": ANSWER}
    report = await StatusReporter(connector(institution), InstitutionCalls(settings), settings).report(query(inst.id), inst)
    assert report.status == "answered" and report.run_id == "run-1" and report.institution_id == inst.id
    assert report.as_of_seq == 12 and report.unknown_freeze_ids == ["F2"] and report.balances[0].balance_fen == 500
    assert report.freezes[0].freeze_id == "F1" and report.freezes[0].held_fen == 400


@pytest.mark.parametrize("trouble", ["down", "garbled", "lodging"])
async def test_a_query_the_institution_cannot_answer_gets_a_failed_report(settings: Settings, institution: Institutions,
                                                                          trouble: str) -> None:
    institution.down = trouble == "down"
    institution.status_answer = {"freezes": []}  # no as_of_seq
    connector = LodgingRegistryConnector(institution) if trouble == "lodging" else BankConnector(institution)
    report = await StatusReporter(connector, InstitutionCalls(settings), settings).report(query(), BANK)
    assert report.status == "failed" and report.run_id == "run-1" and report.institution_id == "bank-01"
    expected = {"down": "HTTP 503", "garbled": "unreadable status answer", "lodging": "holds no assets"}[trouble]
    assert expected in (report.reason or ""), report.reason


def test_the_worker_takes_status_queries_for_its_own_kind(settings: Settings, bus: MemoryBus, institution: Institutions) -> None:
    worker = ConnectorWorker("bank", BankConnector(institution), settings, MemoryConsumer(bus, "g"), MemoryProducer(bus),
                             relay_events=False)
    assert worker.accept(query()) == query()
    with pytest.raises(UndecodableMessage, match="not a bank"):
        worker.accept(query("payment-01"))


# --- lodging registries -------------------------------------------------------------------------

async def test_a_lodging_registry_refuses_inquiries_and_orders_but_reads_its_feed(institution: Institutions) -> None:
    lodging = LodgingRegistryConnector(institution)
    registry = Institution("lodging-01", "lodging", "石家庄市旅馆业治安管理信息系统")
    batch = LegBatch(inquiry_id="q", case_number="(2025)冀0108执1号", court=COURT, notice_number="n", officer_credentials=["Z"],
                     institution_kind="lodging", deadline=utcnow() + timedelta(minutes=1),
                     legs=[LegItem(leg_id="q.0.lodging-01", institution_id="lodging-01", debtor=Debtor(id_number="11010519491231002X", name="张三"))])
    answers = await lodging.query(registry, batch)
    assert isinstance(answers["q.0.lodging-01"], Refused) and "holds no assets" in answers["q.0.lodging-01"].reason
    with pytest.raises(Permanent, match="holds no assets"):
        await lodging.control(registry, None)  # type: ignore[arg-type]
    checked_in = {"event_id": "lodging-01:1", "seq": 1, "institution_id": "lodging-01", "type": "guest_checked_in",
                  "at": "2025-06-01T22:10:00+08:00", "holder_id_number": "11010519491231002X", "place": "石家庄某酒店", "region": "石家庄市"}
    await institution.append(checked_in)
    page = await lodging.events(registry, 0, 0, 100)
    assert page.next == 1 and check_event(page.events[0], "lodging-01").place == "石家庄某酒店"
    assert institution.paths[-1].startswith("/lodging-01/events?after=0")
