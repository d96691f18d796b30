"""``assetgw topics``: the deployment's topics, each with its partitions, end offsets, how many
messages it holds and the message types it carries (``infra.kafka.topics.carried_types``, the
rule replay enforces and rebuild applies). Read-only, outside any consumer group."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from aiokafka import TopicPartition
from rich.console import Console
from rich.table import Table

from assetgw.ops.reading import OpsError, partitions_of, reader
from assetgw.tables import id_column
from assetgw.terminal import inert
from infra.kafka.topics import carried_types, deadletter_topic
from infra.settings import Settings

ANY = "any (what consumers set aside, with dlq.* headers)"


@dataclass(frozen=True)
class TopicInfo:
    topic: str
    partitions: int
    end_offsets: list[int]  # by partition
    messages: int  # held now: end minus beginning, over the partitions
    carries: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def list_topics(settings: Settings, prefix: str | None) -> list[TopicInfo]:
    carried = carried_types(settings.topic_prefix)
    carried[deadletter_topic(settings.topic_prefix)] = (ANY,)
    async with reader(settings, "assetgw-topics") as consumer:
        names = sorted(t for t in await consumer.topics() if not t.startswith("__") and (prefix is None or t.startswith(prefix)))
        out = []
        for topic in names:
            tps = [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
            begin, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
            out.append(TopicInfo(topic, len(tps), [end[tp] for tp in tps], sum(end[tp] - begin[tp] for tp in tps),
                                 list(carried.get(topic, ("?",)))))
    return out


def topics_table(topics: list[TopicInfo]) -> Table:
    """Fits 80 columns: the topic name whole, the rest wraps under its header."""
    table = Table(title=f"topics: {len(topics)}", title_justify="left", show_edge=False)
    id_column(table, "topic", (t.topic for t in topics))
    table.add_column("parts", justify="right")
    table.add_column("messages", justify="right")
    table.add_column("end offsets by partition · carries", overflow="fold")
    for t in topics:
        table.add_row(inert(t.topic), str(t.partitions), str(t.messages),
                      inert(" ".join(map(str, t.end_offsets))) + "\n" + "\n".join(inert(c) for c in t.carries))
    return table


async def show_topics(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    prefix = None if args.all else f"{settings.topic_prefix}."
    try:
        topics = await list_topics(settings, prefix)
    except OpsError as exc:
        print(f"assetgw topics: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(orjson.dumps([t.as_dict() for t in topics], option=orjson.OPT_INDENT_2).decode())
    else:
        Console().print(topics_table(topics))
    return 0


def add_topics_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("topics", help="the topics: partitions, end offsets, messages held, message types carried")
    p.add_argument("--all", action="store_true", help="every topic on the cluster, not only this deployment's (ASSETGW_TOPIC_PREFIX)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=lambda args: sys.exit(asyncio.run(show_topics(args))))
