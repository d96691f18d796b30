"""Operations through the real broker: lag, metrics, rebuild, graceful shutdown."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from gateway.bus.topics import legs_topic
from gateway.ops.lag import consumer_lag, pending_legs
from tests.conftest import case_body, debtor_json, wait_inquiry


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
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(legs_topic(stack.env["ASSETGW_TOPIC_PREFIX"], "bank"), b"not json")
    await producer.stop()
    await asyncio.sleep(1.0)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.api_url}/metrics") as r:
            gateway = await r.text()
        async with http.get(f"http://127.0.0.1:{stack.metrics_ports['bank']}/metrics") as r:
            bank = await r.text()
    assert re.search(r'assetgw_results_received_total\{kind="leg",status="(found|not_found)"\} [1-9]', gateway)
    assert re.search(r'assetgw_http_requests_total\{method="POST",route="/v1/inquiries",status="202"\} [1-9]', gateway)
    assert re.search(r'assetgw_consumer_lag\{group="[^"]+\.gateway"', gateway)
    assert re.search(r'assetgw_legs_total\{institution="bank-01",outcome="(found|not_found)"\} [1-9]', bank)
    assert re.search(r'assetgw_institution_latency_seconds_count\{institution="bank-01",operation="query"\} [1-9]', bank)
    assert re.search(r'assetgw_dead_letters_total\{consumer="[^"]+\.connector\.bank",source_topic="[^"]+\.inquiry\.legs\.bank"\} [1-9]', bank)
    assert 'assetgw_inflight_requests{institution="bank-01"} 0.0' in bank
    assert re.search(r'assetgw_consumer_lag\{group="[^"]+\.connector\.bank"', bank)
    assert await pending_legs(stack.api_url) == []  # nothing waiting on an institution
