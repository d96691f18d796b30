"""Ops tools through the real broker and stack: ``replay`` (time window, key, offsets, filters,
rate, dry run; replayed legs and orders change nothing) and ``dlq`` (list, show, redrive)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord

from assetgw.ops.dlq import REDRIVEN_FROM, list_dead_letters, redrive, render_value, show_dead_letter
from assetgw.ops.replay import REPLAY_SOURCE, OpsError, replay
from infra.clock import SHANGHAI
from infra.kafka.topics import deadletter_topic, legs_topic, order_results_topic, orders_topic, results_topic
from infra.settings import Settings
from tests.helpers import COURT_A, get_json, has_account, largest_account, open_case, ops_settings, order_body, pick, place, run_cli, wait_for

T_ORDER, T_LEG = "control.order.requested", "inquiry.legs.requested"


@pytest.fixture
def settings(stack) -> Settings:  # type: ignore[no-untyped-def]
    return ops_settings(stack)


def prefix_of(stack) -> str:  # type: ignore[no-untyped-def]
    return stack.env["ASSETGW_TOPIC_PREFIX"]


async def scratch_topic(stack, partitions: int) -> str:  # type: ignore[no-untyped-def]
    name = f"{prefix_of(stack)}.scratch.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def produce(stack, topic: str, messages: list[dict[str, Any]]) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Sends ``messages`` (kwargs of send_and_wait) in order; returns their (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        return [((m := await producer.send_and_wait(topic, **msg)).partition, m.offset) for msg in messages]
    finally:
        await producer.stop()


async def read_topic(stack, topic: str, partitions: int, start: dict[int, int] | None = None) -> list[ConsumerRecord]:  # type: ignore[no-untyped-def]
    """Every record of ``topic`` from ``start`` (default: the beginning) to its end now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        out: list[ConsumerRecord] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out += [r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)]]
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def end_offsets(stack, topic: str, partitions: int) -> dict[int, int]:  # type: ignore[no-untyped-def]
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return {tp.partition: o for tp, o in ends.items()}
    finally:
        await consumer.stop()


def envelope(mtype: str, tag: str, case: str | None = None) -> bytes:
    payload: dict[str, Any] = {"tag": tag, **({"case_number": case} if case else {})}
    return orjson.dumps({"type": mtype, "schema_version": 1, "payload": payload})


def payload_of(record: ConsumerRecord) -> dict[str, Any]:
    """The envelope's payload, or {} for what other tests left on shared topics (poison)."""
    try:
        payload = orjson.loads(record.value or b"").get("payload")
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def tag_of(record: ConsumerRecord) -> str:
    return orjson.loads(record.value)["payload"]["tag"]


async def test_replay_by_time_window_publishes_exactly_the_inside_messages(stack, settings) -> None:
    src, dst = await scratch_topic(stack, 2), await scratch_topic(stack, 1)
    base = (int(time.time()) - 3600) * 1000  # an hour ago, so the window's end is in the past too
    minute = 60_000
    plan = [("before", -10), ("in-1", -2), ("in-2", 0), ("in-3", 2), ("after", 10)]
    messages = [
        {"value": envelope(T_LEG, f"{tag}-p{p}"), "key": f"k-{tag}".encode(), "partition": p,
         "timestamp_ms": base + minutes * minute, "headers": [("origin", b"test")]}
        for p in (0, 1) for tag, minutes in plan
    ]
    positions = dict(zip((orjson.loads(m["value"])["payload"]["tag"] for m in messages), await produce(stack, src, messages), strict=False))
    inside = {t for t in positions if t.startswith("in-")}
    # The window's start is naive (Asia/Shanghai); read as UTC it would miss every message.
    since = datetime.fromtimestamp((base - 5 * minute) / 1000, SHANGHAI).replace(tzinfo=None)
    until = datetime.fromtimestamp((base + 5 * minute) / 1000, UTC)

    dry = await replay(settings, src, target_topic=dst, since=since, until=until, progress=False)
    assert (dry.scanned, dry.matched, dry.published, dict(dry.by_type)) == (6, 6, 0, {T_LEG: 6})
    assert dry.ranges == {0: (1, 4), 1: (1, 4)}
    assert await end_offsets(stack, dst, 1) == {0: 0}, "a dry run published something"

    done = await replay(settings, src, target_topic=dst, since=since, until=until, execute=True, progress=False)
    assert (done.matched, done.published) == (6, 6)
    copies = await read_topic(stack, dst, 1)
    assert {tag_of(r) for r in copies} == inside and len(copies) == 6
    for r in copies:
        headers = dict(r.headers)
        p, o = positions[tag_of(r)]
        assert headers[REPLAY_SOURCE] == f"{src}/{p}/{o}".encode() and headers["origin"] == b"test"
        assert r.key == f"k-{tag_of(r).rsplit('-', 1)[0]}".encode()


async def test_replay_by_key_offsets_and_filters_at_a_rate(stack, settings) -> None:
    src = await scratch_topic(stack, 2)
    p0 = [(b"a", envelope(T_ORDER, "a0")), (b"b", envelope(T_ORDER, "b1")), (b"a", b"\xffnot json"),
          (b"a", envelope(T_LEG, "a3", case="(2025)冀0108执1号")), (b"a", envelope(T_ORDER, "a4"))]
    await produce(stack, src, [{"key": k, "value": v, "partition": 0} for k, v in p0]
                  + [{"key": b"a", "value": envelope(T_ORDER, "a-p1"), "partition": 1}])

    by_key = await replay(settings, src, key="a", progress=False)
    assert (by_key.scanned, by_key.matched) == (6, 5)
    assert dict(by_key.by_type) == {T_ORDER: 3, "(undecodable)": 1, T_LEG: 1}
    assert sorted((s.partition, s.offset, s.key) for s in by_key.first) == [(0, 0, "a"), (0, 2, "a"), (0, 3, "a"), (0, 4, "a"), (1, 0, "a")]
    # An undecodable message passes a key filter but never a type or case filter.
    assert (await replay(settings, src, key="a", msg_type=T_ORDER, progress=False)).matched == 3
    assert (await replay(settings, src, case_number="(2025)冀0108执1号", progress=False)).matched == 1

    # Offsets 1..3 of partition 0 with key a are offsets 2 and 3; onto the same topic, at 5/s.
    done = await replay(settings, src, partition=0, from_offset=1, to_offset=3, key="a", rate=5, execute=True, progress=False)
    assert (done.ranges, done.scanned, done.matched, done.published) == ({0: (1, 4)}, 3, 2, 2)
    copies = await read_topic(stack, src, 2, start={0: 5, 1: 1})
    assert [(r.partition, r.value, dict(r.headers)[REPLAY_SOURCE]) for r in copies] == [
        (0, b"\xffnot json", f"{src}/0/2".encode()), (0, p0[3][1], f"{src}/0/3".encode())]
    assert copies[1].timestamp - copies[0].timestamp >= 180, "--rate 5 should space sends by 200 ms"

    with pytest.raises(OpsError, match="unknown topic"):
        await replay(settings, f"{src}.nope", progress=False)
    with pytest.raises(OpsError, match="no partition 7"):
        await replay(settings, src, partition=7, progress=False)


async def _committed(stack, group: str, topic: str, partition: int) -> int:  # type: ignore[no-untyped-def]
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    meta = offsets.get(TopicPartition(topic, partition))
    return meta.offset if meta else -1


async def test_replaying_legs_and_orders_changes_nothing(stack, settings, api, simulators, population, credential) -> None:
    prefix = prefix_of(stack)
    partitions = int(stack.env["ASSETGW_PARTITIONS"])
    legs_mark, started = await end_offsets(stack, legs_topic(prefix, "bank"), partitions), datetime.now(UTC)
    debtor = pick(population, has_account(10_000))
    case, assets = await open_case(api, debtor, credential)
    account = largest_account(assets)
    order = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=account["value_fen"] // 2, term_days=365))
    assert order["status"] == "applied"
    bank_legs = [r for r in await read_topic(stack, legs_topic(prefix, "bank"), partitions, legs_mark)
                 if payload_of(r).get("case_number") == case]
    inquiry_id = payload_of(bank_legs[0])["inquiry_id"]
    inquiry = await get_json(api, f"/v1/inquiries/{inquiry_id}")
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    bank_summary = await simulators.summary("bank")
    marks = {t: await end_offsets(stack, t, partitions) for t in (results_topic(prefix), order_results_topic(prefix))}

    key = f"{order['institution_id']}/{order['asset']['id']}"
    orders = await replay(settings, orders_topic(prefix, "bank"), key=key, execute=True, progress=False)
    assert (orders.matched, orders.published, dict(orders.by_type)) == (1, 1, {T_ORDER: 1})
    legs = await replay(settings, legs_topic(prefix, "bank"), since=started - timedelta(seconds=1), case_number=case,
                        msg_type=T_LEG, execute=True, progress=False)
    assert legs.published == len(bank_legs) > 0

    # The connector did answer the copies: the institution's first answer, flagged duplicate,
    # and a second result for every bank leg.
    async def answers() -> list[ConsumerRecord] | None:
        got = await read_topic(stack, order_results_topic(prefix), partitions, marks[order_results_topic(prefix)])
        return [r for r in got if payload_of(r).get("order_id") == order["id"]] or None

    [again] = await wait_for(answers, 20, what="an answer to the replayed order")
    assert payload_of(again)["duplicate"] is True

    async def leg_results() -> list[ConsumerRecord] | None:
        got = await read_topic(stack, results_topic(prefix), partitions, marks[results_topic(prefix)])
        mine = [r for r in got if payload_of(r).get("inquiry_id") == inquiry_id]
        return mine if len(mine) == len(bank_legs) else None

    repeats = await wait_for(leg_results, 20, what="results of the replayed legs")
    # Once the gateway has applied (and committed past) every repeat, nothing may have changed.
    group = f"{prefix}.gateway"
    for r in [again, *repeats]:
        await wait_for(lambda r=r: _past(stack, group, r), 20, what=f"gateway to consume {r.topic}/{r.partition}/{r.offset}")
    assert await get_json(api, f"/v1/orders/{order['id']}") == order
    assert await get_json(api, f"/v1/inquiries/{inquiry_id}") == inquiry
    assert await simulators.ledger(account["institution_id"], account["account_no"]) == ledger
    assert await simulators.summary("bank") == bank_summary  # responses: the duplicate was not a new one


async def _past(stack, group: str, record: ConsumerRecord) -> bool:  # type: ignore[no-untyped-def]
    return await _committed(stack, group, record.topic, record.partition) > record.offset


async def test_poison_leg_is_listed_shown_and_redriven(stack, settings) -> None:
    prefix = prefix_of(stack)
    source, dlq_topic = legs_topic(prefix, "bank"), deadletter_topic(prefix)
    poison = b"{poison-" + uuid.uuid4().hex.encode() + b" is not json"
    # Not on its key's partition, so a redrive that let the key choose would land elsewhere.
    keyed = DefaultPartitioner()(b"ops-poison", [0, 1, 2, 3], [0, 1, 2, 3])
    [(src_p, src_o)] = await produce(stack, source, [{"key": b"ops-poison", "value": poison, "partition": (keyed + 1) % 4}])

    async def letters_with_poison(**filters: Any) -> list[Any]:
        return [d for d in await list_dead_letters(settings, progress=False, **filters) if d.value == poison]

    [letter] = await wait_for(letters_with_poison, 30, what="the poison leg to be dead-lettered")
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (source, src_p, src_o)
    assert letter.reason.startswith("not JSON") and letter.attempts == 1 and letter.key == b"ops-poison"
    assert letter.header("dlq.consumer") == f"{prefix}.connector.bank" and letter.failed_at.endswith("+08:00")
    assert await letters_with_poison(source_topic=source, reason_contains="NOT json") == [letter]
    assert await letters_with_poison(source_topic=results_topic(prefix)) == []
    assert await letters_with_poison(reason_contains="bad envelope") == []

    shown = await show_dead_letter(settings, letter.position)
    assert shown == letter and render_value(shown.value) == repr(poison)
    code, out, _ = await run_cli(stack, "dlq", "list", "--json", "--source-topic", source)
    assert code == 0 and letter.position in {f"{d['partition']}:{d['offset']}" for d in orjson.loads(out)}
    code, out, _ = await run_cli(stack, "dlq", "show", letter.position)
    assert code == 0 and "dlq.reason" in out and repr(poison) in out
    code, _, err = await run_cli(stack, "dlq", "show", "0:999999")
    assert code == 1 and "no dead letter at 0:999999" in err

    before = await end_offsets(stack, source, 4)
    dry = await redrive(settings, positions=letter.position, progress=False)
    assert [d.position for d in dry.selected] == [letter.position] and dry.published == 0
    with pytest.raises(OpsError, match="say what to redrive"):
        await redrive(settings, progress=False)
    assert [r.value for r in await read_topic(stack, source, 4, before)].count(poison) == 0, "a dry run published"

    done = await redrive(settings, positions=letter.position, execute=True, progress=False)
    [sent] = done.sent
    assert (sent.topic, sent.partition) == (source, src_p)  # back where it came from
    [copy] = [r for r in await read_topic(stack, source, 4, {src_p: sent.offset}) if (r.partition, r.offset) == (src_p, sent.offset)]
    headers = dict(copy.headers)
    assert (copy.key, copy.value) == (b"ops-poison", poison)
    assert headers[REDRIVEN_FROM] == f"{dlq_topic}/{letter.partition}/{letter.offset}".encode()
    assert headers["dlq.attempts"] == b"1" and headers["dlq.source.offset"] == str(src_o).encode()

    # The cause is not mended (the bytes are still not JSON): the worker dead-letters the copy again.
    async def second() -> list[Any]:
        return [d for d in await letters_with_poison() if d.source_offset == sent.offset]

    [again] = await wait_for(second, 30, what="the redriven copy to be dead-lettered again")
    assert again.position != letter.position and again.attempts == 2  # counted across the redrive
    assert again.source_partition == src_p and again.reason == letter.reason
    assert again.header(REDRIVEN_FROM) == f"{dlq_topic}/{letter.partition}/{letter.offset}"

    # The redrive left its mark: the letter shows where it went, and a second redrive passes it by.
    [marked] = [d for d in await letters_with_poison() if d.position == letter.position]
    assert marked.redriven and marked.redriven[0].startswith(f"{source}/{src_p}/{sent.offset} at ") and "+08:00" in marked.redriven[0]
    everything = await redrive(settings, select_all=True, progress=False)
    assert letter.position not in {d.position for d in everything.selected}, "--all would send a redriven letter again"
    assert again.position in {d.position for d in everything.selected}
    code, out, _ = await run_cli(stack, "dlq", "list", "--source-topic", source, env={"COLUMNS": "80"})
    assert code == 0 and "redriven →" in out, out
    assert max(len(line) for line in out.splitlines()) <= 80 and f"{source}/{src_p}/{src_o}" in out, out  # whole, at 80 columns
    code, out, _ = await run_cli(stack, "dlq", "list", "--source-topic", source, "--json")
    [listed] = [d for d in orjson.loads(out) if f"{d['partition']}:{d['offset']}" == letter.position]
    assert listed["redriven"] == list(marked.redriven)


async def test_replay_cli_dry_run_execute_and_errors(stack) -> None:
    src, dst = await scratch_topic(stack, 1), await scratch_topic(stack, 1)
    await produce(stack, src, [{"key": k, "value": envelope(T_ORDER, k.decode()), "partition": 0} for k in (b"x", b"y", b"x")])
    code, out, _ = await run_cli(stack, "replay", src, "--to", dst, "--key", "x", "--json")
    summary = orjson.loads(out)
    assert code == 0 and (summary["matched"], summary["published"], summary["executed"]) == (2, 0, False)
    code, out, _ = await run_cli(stack, "replay", src, "--to", dst, "--key", "x", "--execute")
    assert code == 0 and "published 2" in out
    assert [r.key for r in await read_topic(stack, dst, 1)] == [b"x", b"x"]
    code, _, err = await run_cli(stack, "replay", f"{src}.nope")
    assert code == 1 and "unknown topic" in err
    code, _, err = await run_cli(stack, "replay", src, "--since", "last tuesday")
    assert code == 2 and "not an ISO-8601 date-time" in err
