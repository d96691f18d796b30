"""Partitions are assigned by the members' static instance ids (infra/kafka/assignor.py), so a
member rejoining under its instance id (a restart after a crash, a gateway standing in for a dead
peer) takes back exactly the partitions it had, and every partition keeps a consumer.

Before, the round robin ordered members by the member ids the broker hands out at each join: a
rejoining leader could take its peer's partitions while noida-db left the peer holding them, and
half of the partitions went unconsumed (freezes answered at the banks, never applied)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from infra.kafka.assignor import StaticRoundRobinAssignor
from infra.kafka.clients import make_consumer
from infra.settings import Settings
from tests.helpers import wait_for

TOPICS = {"a.results": 6, "a.control": 4}


class Cluster:
    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(TOPICS[topic]))


def by_instance(members: dict[str, str], topics: list[str] | None = None) -> dict[str, set[tuple[str, int]]]:
    """member id -> instance id in; instance id -> its (topic, partition)s out."""
    metadata = {m: StaticRoundRobinAssignor(i).metadata(topics or list(TOPICS)) for m, i in members.items()}
    assignment = StaticRoundRobinAssignor("leader").assign(Cluster(), metadata)  # type: ignore[arg-type]
    return {members[m]: {(t, p) for t, ps in a.assignment for p in ps} for m, a in assignment.items()}


def test_the_assignment_follows_instance_ids_not_member_ids() -> None:
    first = by_instance({"gw-0001": "gateway-a", "gw-0002": "gateway-b"})
    rejoined = by_instance({"gw-9999": "gateway-a", "gw-0002": "gateway-b"})  # a rejoined: a new, later member id
    assert first == rejoined
    everything = {(t, p) for t, n in TOPICS.items() for p in range(n)}
    assert first["gateway-a"] | first["gateway-b"] == everything and not first["gateway-a"] & first["gateway-b"]
    assert len(first["gateway-a"]) == len(first["gateway-b"]) == 5


def test_a_member_gets_nothing_of_a_topic_it_did_not_subscribe() -> None:
    metadata = {"m1": StaticRoundRobinAssignor("x").metadata(["a.results"]),
                "m2": StaticRoundRobinAssignor("y").metadata(["a.results", "a.control"])}
    assignment = StaticRoundRobinAssignor("x").assign(Cluster(), metadata)  # type: ignore[arg-type]
    assert dict(assignment["m1"].assignment) == {"a.results": [0, 2, 4]}
    assert dict(assignment["m2"].assignment) == {"a.control": [0, 1, 2, 3], "a.results": [1, 3, 5]}
    assert isinstance(metadata["m1"], ConsumerProtocolMemberMetadata) and metadata["m1"].user_data == b"x"


# -- through a real broker --------------------------------------------------------------------------


def holding(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def holds() -> bool:  # the consumers' group coordination runs in their own tasks
        return check()
    return holds


def member(bootstrap: str, instance: str, group: str) -> AIOKafkaConsumer:
    settings = dataclasses.replace(Settings.from_env(), kafka_bootstrap=bootstrap, instance=instance)
    return make_consumer(settings, group_id=group, client_id="gateway")


async def test_a_leader_rejoining_under_its_instance_id_leaves_no_partition_unconsumed(broker_bootstrap: str) -> None:
    bootstrap = broker_bootstrap
    topics = [f"{os.getpid()}.{t}" for t in TOPICS]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, n, 1) for t, n in zip(topics, TOPICS.values(), strict=True)])
    finally:
        await admin.close()
    group = f"{os.getpid()}.group"
    first, peer = member(bootstrap, "vm-gw0", group), member(bootstrap, "vm-gw1", group)
    first.subscribe(topics)
    await first.start()  # alone first: the group's leader
    await wait_for(holding(lambda: len(first.assignment()) == 10), 30, what="the first member to hold every partition")
    peer.subscribe(topics)
    await peer.start()
    await wait_for(holding(lambda: len(first.assignment()) == len(peer.assignment()) == 5), 60, what="the partitions shared by two")
    held = first.assignment()
    await first.stop()  # a static member leaves no word: as if it had died
    standin = member(bootstrap, "vm-gw0", group)  # its place taken under its instance id
    standin.subscribe(topics)
    await standin.start()
    try:
        await wait_for(holding(lambda: bool(standin.assignment())), 60, what="the stand-in's assignment")
        assert standin.assignment() == held
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for topic, n in zip(topics, TOPICS.values(), strict=True):
                for p in range(n):
                    await producer.send_and_wait(topic, f"{topic}/{p}".encode(), partition=p)
        finally:
            await producer.stop()
        seen: dict[TopicPartition, str] = {}

        async def everything_consumed() -> bool:
            for name, consumer in (("stand-in", standin), ("peer", peer)):
                for tp, records in (await consumer.getmany(timeout_ms=100)).items():
                    if records:
                        assert tp not in seen, f"{tp} consumed by both the {seen[tp]} and the {name}"
                        seen[tp] = name
            return len(seen) == 10

        await wait_for(everything_consumed, 60, what="a message on every partition to be consumed")
        assert {tp for tp, name in seen.items() if name == "stand-in"} == held
    finally:
        await asyncio.gather(standin.stop(), peer.stop())
