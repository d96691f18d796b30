"""Operations through the real broker: lag, metrics, rebuild, graceful shutdown."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from assetgw.ops.dlq import list_dead_letters, redrive
from assetgw.ops.lag import consumer_lag, pending_legs
from infra.kafka.topics import legs_topic, results_topic
from schemas.debtor import Debtor
from schemas.messages import LegBatch, LegItem, encode, new_id, utcnow
from tests.helpers import (
    ACCOUNT_A,
    CASE,
    COURT_A,
    LEGS_PER_DEBTOR,
    bulk_debtors,
    case_body,
    connector_metrics,
    debtor_json,
    has_account,
    largest_account,
    metric_total,
    officer_token,
    open_case,
    ops_settings,
    order_body,
    pick,
    place,
    post_batch,
    post_json,
    read_all,
    rebuild_and_compare,
    settled,
    wait_batch,
    wait_for,
    wait_inquiry,
)

BANK_DEAD_LETTERS = r'source_topic="[^"]+\.inquiry\.legs\.bank"'


async def test_lag_equals_produced_minus_committed_for_a_group_stopped_halfway(stack) -> None:
    topic, group = f"lagtest-{time.time_ns()}", f"lagtest-group-{time.time_ns()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    for i in range(100):
        await producer.send(topic, b"m", partition=i % 2)
    await producer.flush()
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.kafka_bootstrap, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    committed: dict[TopicPartition, int] = {}
    while sum(committed.values()) < 40:
        for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=5)).items():
            committed[tp] = records[-1].offset + 1
    await consumer.commit(committed)
    await consumer.stop()  # stopped halfway

    rows = await consumer_lag(stack.kafka_bootstrap, groups=[group])
    assert {(r.topic, r.partition) for r in rows} == {(topic, 0), (topic, 1)}
    for r in rows:
        assert r.end == 50
        assert r.committed == committed.get(TopicPartition(topic, r.partition), -1)
        assert r.lag == 50 - max(r.committed, 0)
    assert sum(r.lag for r in rows) == 100 - sum(committed.values())


async def test_metrics_on_gateway_and_connector_workers(stack, api, population, credential) -> None:
    debtor = next(d for d in population.debtors if d.kind == "person")
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential, institutions=["bank-01", "land-01"])) as r:
        accepted = await r.json()
    await wait_inquiry(api, accepted["location"])
    before = metric_total(await connector_metrics(stack, "bank"), "assetgw_dead_letters_total", BANK_DEAD_LETTERS)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(legs_topic(stack.env["ASSETGW_TOPIC_PREFIX"], "bank"), b"not json")
    await producer.stop()

    async def dead_lettered() -> str | None:
        text = await connector_metrics(stack, "bank")
        return text if metric_total(text, "assetgw_dead_letters_total", BANK_DEAD_LETTERS) > before else None

    bank = await wait_for(dead_lettered, 30, what="the bank worker to count the poison message")
    async with api.get("/metrics") as r:
        gateway = await r.text()
    assert re.search(r'assetgw_results_received_total\{kind="leg",status="(found|not_found)"\} [1-9]', gateway)
    assert re.search(r'assetgw_http_requests_total\{method="POST",route="/v1/inquiries",status="202"\} [1-9]', gateway)
    assert re.search(r'assetgw_consumer_lag\{group="[^"]+\.gateway"', gateway)
    assert re.search(r'assetgw_legs_total\{institution="bank-01",outcome="(found|not_found)"\} [1-9]', bank)
    assert re.search(r'assetgw_institution_latency_seconds_count\{institution="bank-01",operation="query"\} [1-9]', bank)
    assert re.search(r'assetgw_dead_letters_total\{consumer="[^"]+\.connector\.bank",source_topic="[^"]+\.inquiry\.legs\.bank"\} [1-9]', bank)
    assert 'assetgw_inflight_requests{institution="bank-01"} 0.0' in bank
    assert re.search(r'assetgw_consumer_lag\{group="[^"]+\.connector\.bank"', bank)
    assert await pending_legs(stack.api_url, officer_token(stack)) == []  # nothing waiting on an institution


async def test_rebuild_from_topics_equals_the_live_store(stack, api, officers, simulators, population, credential, tmp_path) -> None:
    """After a 200-debtor batch and orders of every type (everything earlier in the session too)."""
    debtors = bulk_debtors(population, 200)
    batch = await post_batch(api, [{**CASE, "case_number": "(2025)冀0108执9100号", "officer_credentials": [credential],
                                    "debtor": debtor_json(d)} for d in debtors])
    await wait_batch(api, batch["location"])
    debtor = pick(population, has_account(10_000))
    case, assets = await open_case(api, debtor, credential)
    account = largest_account(assets)
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=6_000, term_days=300))
    await place(api, order_body("continue", case, COURT_A, account, credential, original_order_id=freeze["id"], term_days=30))
    _status, deduct = await post_json(api, "/v1/orders", order_body("deduct", case, COURT_A, account, credential, amount_fen=1_000,
                                                                  original_order_id=freeze["id"], enforcement_account=ACCOUNT_A))
    await post_json(officers("OFFICER-A2", COURT_A), f"/v1/orders/{deduct['id']}/approve", {})
    await settled(api, deduct["id"])
    await place(api, order_body("unfreeze", case, COURT_A, account, credential, original_order_id=freeze["id"]))

    report = await rebuild_and_compare(stack, tmp_path / "rebuilt.sqlite3")
    assert report["equal"], report
    assert report["legs"]["rebuilt"] >= 200 * LEGS_PER_DEBTOR and report["orders"]["rebuilt"] >= 4


async def _legs_answered(stack) -> float:  # type: ignore[no-untyped-def]
    """Legs the bank worker has answered since it started, from its own /metrics."""
    return metric_total(await connector_metrics(stack, "bank"), "assetgw_legs_total")


@pytest.mark.isolated
async def test_sigterm_mid_batch_loses_nothing_and_leaves_no_processed_message_uncommitted(stack, api, population, credential) -> None:
    prefix = stack.env["ASSETGW_TOPIC_PREFIX"]
    # The bank worker takes two messages at a time, so SIGTERM finds it mid-batch however fast the
    # machine: some messages answered and committed, two in hand (finished on the way out), the
    # rest still in Kafka.
    bank = stack.services["connector-bank"]
    stack.kill("connector-bank", signal.SIGTERM)
    bank.env["ASSETGW_MAX_INFLIGHT"] = "2"
    await stack.restart("connector-bank")
    batch = await post_batch(api, [{**CASE, "case_number": "(2025)冀0108执9200号", "officer_credentials": [credential],
                                    "debtor": debtor_json(d)} for d in bulk_debtors(population, 200)])

    # A message holds up to ASSETGW_LEGS_PER_MESSAGE legs, answered in parts, and the worker holds
    # two at a time: twelve messages' worth of legs answered means at least ten whole messages.
    legs_per_message = int(stack.env["ASSETGW_LEGS_PER_MESSAGE"])

    async def ten_messages_answered() -> bool:
        return await _legs_answered(stack) >= 12 * legs_per_message

    await wait_for(ten_messages_answered, 60, interval=0.02, what="the bank worker to answer ten messages")
    for name in ("connector-bank", "gateway"):
        started = time.monotonic()
        stack.kill(name, signal.SIGTERM)
        assert stack.services[name].process.returncode == 0, f"{name} did not exit cleanly"
        assert time.monotonic() - started < 30, f"{name} took too long to stop"

    # Every leg message whose result was published is committed, and none is committed without one.
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    committed = {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(f"{prefix}.connector.bank")).items()}
    await admin.close()

    def of_batch(messages: list, field: str) -> list:  # type: ignore[no-untyped-def]
        """(message, its leg ids) for the messages of our batch; ``field`` lists the legs."""
        out = []
        for m in messages:
            try:
                envelope = orjson.loads(m.value)
            except orjson.JSONDecodeError:
                continue  # poison from other tests
            if isinstance(envelope, dict) and envelope.get("correlation", {}).get("batch_id") == batch["id"]:
                out.append((m, [leg["leg_id"] for leg in envelope["payload"][field]]))
        return out

    async def answered_legs() -> Counter:  # type: ignore[type-arg]
        results = of_batch(await read_all(stack.kafka_bootstrap, results_topic(prefix)), "results")
        return Counter(leg_id for _, legs in results for leg_id in legs)

    ours = of_batch(await read_all(stack.kafka_bootstrap, legs_topic(prefix, "bank")), "legs")
    copies = Counter(leg_id for _, legs in ours for leg_id in legs)
    answered = await answered_legs()
    checked = 0
    for m, legs in ours:
        if any(copies[leg_id] != 1 for leg_id in legs):
            continue  # republished by the gateway's relay on stop: judged by the totals below
        is_committed = m.offset < committed.get(TopicPartition(m.topic, m.partition), 0)
        # A message's legs are all answered (in one or more parts) and it is committed, or neither.
        assert {answered[leg_id] > 0 for leg_id in legs} == {is_committed}, f"message at offset {m.offset}: committed={is_committed}"
        checked += 1
    answered_messages = sum(1 for _, legs in ours if answered[legs[0]])
    assert checked > 20 and 10 <= answered_messages < len(ours), f"stopped too early or too late: {answered_messages} of {len(ours)}"

    # Both back, the bank worker unthrottled: the batch completes and no leg message was processed twice.
    del bank.env["ASSETGW_MAX_INFLIGHT"]
    for name in ("connector-bank", "gateway"):
        await stack.restart(name)
    done = await wait_batch(api, batch["location"], timeout=300)
    assert done["legs"] == {"total": 200 * LEGS_PER_DEBTOR, "done": 200 * LEGS_PER_DEBTOR}
    answered = await answered_legs()
    assert all(answered[leg_id] <= copies[leg_id] for leg_id in copies), "a leg message was processed twice"


@pytest.mark.isolated
async def test_dead_letter_redriven_after_its_cause_is_mended_is_processed(stack) -> None:
    """A leg for an institution the worker does not know is dead-lettered; once the worker's
    directory includes it, a redrive processes it (the result says what the institution said)."""
    prefix = stack.env["ASSETGW_TOPIC_PREFIX"]
    settings = ops_settings(stack)
    leg = LegItem(leg_id=f"mend-{new_id()}", institution_id="bank-23", debtor=Debtor(id_number="11010519491231002X", name="张三"))
    batch = LegBatch(
        inquiry_id=new_id(), case_number="(2025)冀0108执4502号", court="石家庄市裕华区人民法院",
        notice_number="n-1", officer_credentials=["ZF00000000"], institution_kind="bank",
        deadline=utcnow().replace(year=utcnow().year + 1), legs=[leg],
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(legs_topic(prefix, "bank"), encode(batch, inquiry_id=batch.inquiry_id), key=b"mend")
    await producer.stop()

    async def dead_lettered():  # type: ignore[no-untyped-def]
        return [d for d in await list_dead_letters(settings, reason_contains="bank-23", progress=False) if leg.leg_id.encode() in d.value]

    letters = await wait_for(dead_lettered, 30, interval=0.5, what="the leg to be dead-lettered")
    assert "not a bank in this worker's directory" in letters[0].reason

    bank = stack.services["connector-bank"]
    bank.env["ASSETGW_INSTITUTIONS"] = "bank=23"  # the mend: the worker now knows bank-23
    stack.kill("connector-bank")
    await stack.restart("connector-bank")
    summary = await redrive(settings, positions=letters[0].position, execute=True, progress=False)
    assert summary.published == 1

    async def answered():  # type: ignore[no-untyped-def]
        return [m for m in await read_all(stack.kafka_bootstrap, results_topic(prefix)) if leg.leg_id.encode() in m.value]

    await wait_for(answered, 30, interval=0.5, what="the redriven leg to be processed")
