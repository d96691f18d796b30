"""A partition assignment that depends on the members' static instance ids, not on the member ids
the broker hands out at each join.

Our consumers are static group members (KIP-345; infra/kafka/clients.py). When a static member
rejoins under its instance id (a restart after a crash, or a gateway standing in for a dead peer,
gateway/messaging/standins.py), the broker gives it a new member id. If it was the group's leader,
it computes the assignment again; aiokafka's round robin orders members by member id, so the new
id can reshuffle it. Apache Kafka then rebalances every member; noida-db does not, and the others
keep the partitions of the old assignment: seen, the rejoined leader took the same partitions as
its peer and half of the partitions had no consumer (freezes answered but never applied).

Ordering members by their instance id (carried in the subscription's user data, as aiokafka does
not pass the instance id to assignors) makes every leader compute the same assignment for the same
members, so a rejoin changes nothing whether or not the broker rebalances the others.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata
from aiokafka.structs import TopicPartition


class StaticRoundRobinAssignor(AbstractPartitionAssignor):
    """Round robin over all subscribed partitions, members in the order of their instance ids.
    An instance of it per consumer (it carries that consumer's instance id)."""

    name = "assetgw-static-roundrobin"
    version = 0

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:  # type: ignore[override]
        return ConsumerProtocolMemberMetadata(self.version, sorted(topics), self.instance_id.encode())

    def assign(self, cluster: ClusterMetadata,  # type: ignore[override]
               members: Mapping[str, ConsumerProtocolMemberMetadata]) -> dict[str, ConsumerProtocolMemberAssignment]:
        return assign_round_robin(cluster, members)

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:  # type: ignore[override]
        pass


def assign_round_robin(cluster: ClusterMetadata,
                       members: Mapping[str, ConsumerProtocolMemberMetadata]) -> dict[str, ConsumerProtocolMemberAssignment]:
    # The member id breaks ties only among members without an instance id (never ours).
    order = sorted(members, key=lambda member_id: (bytes(members[member_id].user_data or b""), member_id))
    topics = sorted({topic for metadata in members.values() for topic in metadata.subscription})
    partitions = [TopicPartition(topic, p) for topic in topics for p in sorted(cluster.partitions_for_topic(topic) or ())]
    assigned: dict[str, dict[str, list[int]]] = {member_id: {} for member_id in members}
    turn = itertools.cycle(order)
    for tp in partitions:
        member_id = next(turn)
        while tp.topic not in members[member_id].subscription:  # members subscribed to other topics are skipped
            member_id = next(turn)
        assigned[member_id].setdefault(tp.topic, []).append(tp.partition)
    return {member_id: ConsumerProtocolMemberAssignment(StaticRoundRobinAssignor.version, sorted(by_topic.items()), b"")
            for member_id, by_topic in assigned.items()}
