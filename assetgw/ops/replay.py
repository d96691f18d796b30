"""``assetgw replay``: read a range of a topic and publish it again, to the same topic or another.

The reader has no consumer group (``assign`` + ``seek``), so a replay never moves any group's
offsets. The end of the range is fixed when the replay starts, so replaying a topic onto itself
terminates. Replaying legs or orders is safe: the gateway keeps the first result of a leg or
order, and institutions dedupe on the order id.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.structs import ConsumerRecord
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assetgw.ops.reading import OpsError, partitions_of, reader, scan
from assetgw.tables import id_column, lines
from assetgw.terminal import inert
from infra.clock import SHANGHAI
from infra.kafka.clients import make_producer  # also installs fetch pacing for the reader
from infra.kafka.topics import carried_types
from infra.settings import Settings

REPLAY_SOURCE = "replay.source"
UNDECODABLE = "(undecodable)"
SHOW_FIRST = 10
PUBLISH_BATCH = 500  # sends in flight before we wait for their acks


def parse_instant(text: str) -> datetime:
    """ISO 8601; without a UTC offset the time is read as Asia/Shanghai, as officers write it."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise OpsError(f"not an ISO-8601 date-time: {text!r} (e.g. 2025-11-22T09:30, 2025-11-22T09:30+08:00, 2025-11-22T01:30Z)") from None
    return aware(value)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)


def to_ms(value: datetime) -> int:
    return int(aware(value).timestamp() * 1000)


def progress_bar(label: str, enabled: bool) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=not enabled)


def shown_key(key: bytes | None) -> str:
    return "-" if key is None else key.decode("utf-8", "backslashreplace")


# --- what a message is ----------------------------------------------------------------------------

def peek(value: bytes | None) -> tuple[str | None, str | None]:
    """The envelope ``type`` and payload ``case_number``, without validating the rest, so that
    a message today's schemas reject can still be selected and replayed."""
    try:
        data = orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None, None
    payload = data.get("payload")
    case = payload.get("case_number") if isinstance(payload, dict) else None
    return data["type"], case if isinstance(case, str) else None


class Pacer:
    """At most ``rate`` sends per second, evenly spaced (a token bucket of depth one)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            await asyncio.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + self.interval


# --- replay -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Selected:
    partition: int
    offset: int
    key: str
    type: str


@dataclass
class ReplaySummary:
    source_topic: str
    target_topic: str
    executed: bool
    ranges: dict[int, tuple[int, int]]  # partition -> [start, end) scanned
    scanned: int = 0
    matched: int = 0
    published: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    held_back: Counter[str] = field(default_factory=Counter)  # of a type the target does not carry
    first: list[Selected] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_topic": self.source_topic, "target_topic": self.target_topic, "executed": self.executed,
            "ranges": {str(p): list(r) for p, r in self.ranges.items()}, "scanned": self.scanned,
            "matched": self.matched, "published": self.published, "by_type": dict(self.by_type),
            "held_back": dict(self.held_back),
            "first": [s.__dict__ for s in self.first],
        }


async def replay(
    settings: Settings,
    source_topic: str,
    *,
    target_topic: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    from_offset: int | None = None,
    to_offset: int | None = None,
    partition: int | None = None,
    key: str | None = None,
    msg_type: str | None = None,
    case_number: str | None = None,
    rate: float | None = None,
    execute: bool = False,
    progress: bool = True,
    force: bool = False,
) -> ReplaySummary:
    """Replays ``source_topic`` records in the range that pass every filter.

    Range: offsets ``from_offset``..``to_offset`` (both inclusive, per partition) intersected with
    the time window ``[since, until)`` (naive datetimes are Asia/Shanghai); the end defaults to the
    end offsets taken now. Copies keep key, value and headers, plus ``replay.source``. Onto its own
    topic a copy goes to the partition it came from; onto another topic, to its key's partition.
    Without ``execute`` nothing is published. A message of a type the target topic does not carry
    (``carried_types``) is held back, and a source whose types the target never carries is refused,
    unless ``force``: its consumer could only dead-letter it, and a rebuild would have to skip it.
    """
    _check_arguments(since, until, from_offset, to_offset, rate)
    target = target_topic or source_topic
    carried = carried_types(settings.topic_prefix)
    allowed = None if force else carried.get(target)
    if allowed is not None:
        _check_types(source_topic, target, (msg_type,) if msg_type else carried.get(source_topic), allowed)
    wanted_key = key.encode() if key is not None else None
    async with reader(settings, "assetgw-replay") as consumer:
        parts = await partitions_of(consumer, source_topic)
        if target != source_topic:
            await partitions_of(consumer, target)  # fail before reading, not at the first send
        if partition is not None:
            if partition not in parts:
                raise OpsError(f"topic {source_topic!r} has no partition {partition} (it has {parts[0]}..{parts[-1]})")
            parts = [partition]
        ranges = await _resolve_ranges(consumer, [TopicPartition(source_topic, p) for p in parts],
                                       since, until, from_offset, to_offset)
        summary = ReplaySummary(source_topic, target, execute, {tp.partition: r for tp, r in ranges.items()})
        since_ms = to_ms(since) if since else None
        until_ms = to_ms(until) if until else None

        def matches(record: ConsumerRecord, mtype: str | None, case: str | None) -> bool:
            if since_ms is not None and record.timestamp < since_ms:
                return False  # timestamps a little out of offset order inside the bounds
            if until_ms is not None and record.timestamp >= until_ms:
                return False
            if wanted_key is not None and record.key != wanted_key:
                return False
            if msg_type is not None and mtype != msg_type:
                return False
            return case_number is None or case == case_number

        producer = make_producer(settings, "assetgw-replay") if execute else None
        if producer is not None:
            await start_producer(producer, settings)
        pacer, pending = Pacer(rate), []
        try:
            with progress_bar(f"replay {source_topic}", progress) as bar:
                total = sum(end - start for start, end in ranges.values())
                task = bar.add_task("scan", total=total)
                async for record in scan(consumer, ranges, lambda: bar.advance(task)):
                    summary.scanned += 1
                    mtype, case = peek(record.value)
                    if not matches(record, mtype, case):
                        continue
                    summary.matched += 1
                    if allowed is not None and mtype not in allowed:
                        summary.held_back[mtype or UNDECODABLE] += 1
                        continue
                    summary.by_type[mtype or UNDECODABLE] += 1
                    if len(summary.first) < SHOW_FIRST:
                        summary.first.append(Selected(record.partition, record.offset, shown_key(record.key), mtype or UNDECODABLE))
                    if producer is None:
                        continue
                    await pacer.wait()
                    pending.append(await producer.send(
                        target, record.value, key=record.key, headers=_replay_headers(record),
                        partition=record.partition if target == source_topic else None,
                    ))
                    if len(pending) >= PUBLISH_BATCH:
                        summary.published += await _acked(pending)
                bar.update(task, completed=total)  # compacted or transactional gaps
            if pending:
                summary.published += await _acked(pending)
        except KafkaError as exc:
            raise OpsError(f"publishing to {target!r} failed after {summary.published} copies: {exc!r}") from None
        finally:
            if producer is not None:
                await producer.stop()
    return summary


def _check_types(source: str, target: str, sent: tuple[str, ...] | None, allowed: tuple[str, ...]) -> None:
    if sent is not None and not set(sent) & set(allowed):
        raise OpsError(f"{target} carries {', '.join(allowed)}, not {', '.join(sent)} (what {source} carries): its consumer "
                       "would only dead-letter them. Pick the topic that carries them, or --force")


def _check_arguments(since: datetime | None, until: datetime | None, from_offset: int | None,
                     to_offset: int | None, rate: float | None) -> None:
    if from_offset is not None and from_offset < 0:
        raise OpsError("--from-offset must be 0 or more")
    if to_offset is not None and to_offset < (from_offset or 0):
        raise OpsError("--to-offset must not be below --from-offset (both are inclusive)")
    if since and until and aware(until) <= aware(since):
        raise OpsError("--until must be later than --since")
    if rate is not None and rate <= 0:
        raise OpsError("--rate must be a positive number of messages per second")


async def _resolve_ranges(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], since: datetime | None, until: datetime | None,
    from_offset: int | None, to_offset: int | None,
) -> dict[TopicPartition, tuple[int, int]]:
    begin = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)  # fixed now: copies onto the same topic are not re-read
    ranges = {tp: (begin[tp], end[tp]) for tp in tps}
    if from_offset is not None or to_offset is not None:
        ranges = {tp: (max(s, from_offset or 0), e if to_offset is None else min(e, to_offset + 1)) for tp, (s, e) in ranges.items()}
    # offsets_for_times gives the first offset whose timestamp is at or after the instant.
    if since is not None:
        found = await consumer.offsets_for_times({tp: to_ms(since) for tp in tps})
        ranges = {tp: (max(s, found[tp].offset) if found[tp] else e, e) for tp, (s, e) in ranges.items()}
    if until is not None:
        found = await consumer.offsets_for_times({tp: to_ms(until) for tp in tps})
        ranges = {tp: (s, min(e, found[tp].offset) if found[tp] else e) for tp, (s, e) in ranges.items()}
    return {tp: (s, max(s, e)) for tp, (s, e) in ranges.items()}


def _replay_headers(record: ConsumerRecord) -> list[tuple[str, bytes]]:
    source = f"{record.topic}/{record.partition}/{record.offset}".encode()
    return [(k, v) for k, v in record.headers if k != REPLAY_SOURCE] + [(REPLAY_SOURCE, source)]


async def start_producer(producer: Any, settings: Settings) -> None:
    try:
        await producer.start()
    except KafkaConnectionError as exc:
        await producer.stop()
        raise OpsError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from None


async def _acked(pending: list[asyncio.Future[Any]]) -> int:
    """Waits for the broker to acknowledge every send (acks=all); returns how many."""
    await asyncio.gather(*pending)
    count = len(pending)
    pending.clear()
    return count


# --- output -------------------------------------------------------------------------------------

def print_replay_summary(summary: ReplaySummary, console: Console) -> None:
    ranges = ", ".join(f"{p}:[{s},{e})" for p, (s, e) in sorted(summary.ranges.items()))
    console.print(f"{inert(summary.source_topic)} → {inert(summary.target_topic)} · partitions:{inert('[start,end)')} {inert(ranges or '-')}")
    verb = "published" if summary.executed else "would replay"
    console.print(f"scanned {summary.scanned}, matched {summary.matched}, "
                  f"{verb} {summary.published if summary.executed else sum(summary.by_type.values())}")
    if summary.held_back:
        held = ", ".join(f"{n} {inert(t)}" for t, n in summary.held_back.most_common())
        console.print(f"[yellow]held back {held}: {inert(summary.target_topic)} does not carry that type (--force sends them)[/yellow]",
                      soft_wrap=True)
    if summary.by_type:
        table = Table("type", "messages", title="by type", title_justify="left", show_edge=False)
        for mtype, count in summary.by_type.most_common():
            table.add_row(inert(mtype), str(count))
        console.print(table)
    if summary.first:
        table = Table(title=f"first {len(summary.first)}", title_justify="left", show_edge=False)
        id_column(table, "partition:offset · key", (lines(f"{s.partition}:{s.offset}", s.key) for s in summary.first))
        table.add_column("type", overflow="fold")
        for s in summary.first:  # the key whole: it is what --key takes
            table.add_row(lines(f"{s.partition}:{s.offset}", s.key), inert(s.type))
        console.print(table)
    if not summary.executed and summary.matched:
        console.print("[yellow]dry run: nothing was published; add --execute to publish[/yellow]")
