"""``ASSETGW_TOPIC_RETENTION``: the topics the stack creates keep messages that long (the broker
drops older ones, bounding what noida-db holds in memory), except the dead letters, which wait for
ops; 0 leaves retention to the broker. Through a real broker."""

from __future__ import annotations

import os

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.kafka.topics import deadletter_topic, ensure_topics, results_topic, topic_configs
from tests.helpers import wait_for


def test_every_topic_but_the_dead_letters_gets_the_retention() -> None:
    assert topic_configs(results_topic("p"), "p", 600) == {"retention.ms": "600000", "segment.ms": "600000"}
    assert topic_configs(deadletter_topic("p"), "p", 600) == {}
    assert topic_configs(results_topic("p"), "p", 0) == {}


async def test_old_messages_expire_and_dead_letters_stay(broker_bootstrap: str) -> None:
    prefix = f"ret{os.getpid()}"
    created = await ensure_topics(broker_bootstrap, prefix, 1, retention_s=1)
    results, dead = TopicPartition(results_topic(prefix), 0), TopicPartition(deadletter_topic(prefix), 0)
    assert {results.topic, dead.topic} <= set(created)
    producer = AIOKafkaProducer(bootstrap_servers=broker_bootstrap)
    reader = AIOKafkaConsumer(bootstrap_servers=broker_bootstrap)
    await producer.start()
    await reader.start()
    try:
        await producer.send_and_wait(dead.topic, b"a dead letter")
        await producer.send_and_wait(results.topic, b"an old result")

        async def expired() -> bool:
            # Writes let the broker roll and drop segments: to both, so the dead letters had the same chance.
            await producer.send_and_wait(results.topic, b"a new result")
            await producer.send_and_wait(dead.topic, b"a new dead letter")
            return (await reader.beginning_offsets([results]))[results] > 0

        await wait_for(expired, 60, interval=0.5, what="the old result to expire")
        assert (await reader.beginning_offsets([dead]))[dead] == 0  # the first dead letter, as old, is still there
    finally:
        await reader.stop()
        await producer.stop()
