"""``assetgw dlq list|show|redrive``: inspect the dead-letter topic and send letters back.

A dead letter keeps the original key and value; its ``dlq.*`` headers say where it came from and
why it failed (``infra.kafka.deadletter``). Redrive re-publishes the original bytes to the source
topic and partition, carrying the ``dlq.*`` headers along (so a consumer that fails again counts
its attempts on and shows the history) plus ``dlq.redriven-from``.

Redrive leaves a trace where the letters are: a **mark** in the dead-letter topic itself (no key
value of its own, a ``dlq.redrive-of`` header naming the letter and ``dlq.redriven-to`` where it
went). The listing attaches marks to their letters and never lists a mark; selecting by filter or
``--all`` passes over letters already redriven, so running a redrive twice sends nothing twice
(``--offsets`` names letters explicitly and sends them again).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from rich.console import Console
from rich.table import Table

from assetgw.ops.reading import OpsError, partitions_of, reader, scan
from assetgw.ops.replay import progress_bar, shown_key, start_producer
from assetgw.tables import id_column, lines
from assetgw.terminal import inert, plain
from infra.clock import SHANGHAI
from infra.kafka.clients import make_producer
from infra.kafka.deadletter import ORIGIN
from infra.kafka.deadletter import REDRIVEN_FROM as REDRIVEN_FROM  # re-exported: the header on a redriven copy
from infra.kafka.topics import deadletter_topic
from infra.settings import Settings
from schemas.messages import utcnow

REDRIVE_OF = "dlq.redrive-of"  # on a mark: the letter's P:O
REDRIVEN_TO = "dlq.redriven-to"  # on a mark: topic/partition/offset of the copy
REDRIVEN_AT = "dlq.redriven-at"
Position = tuple[int, int]  # (partition, offset) in the dead-letter topic
Wanted = tuple[int | None, int]  # as typed: the partition may be left out


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    redriven: tuple[str, ...] = ()  # "topic/partition/offset at TIME" per redrive (from the marks)

    @classmethod
    def of(cls, record: ConsumerRecord) -> DeadLetter:
        return cls(record.topic, record.partition, record.offset, record.timestamp, record.key, record.value, tuple(record.headers))

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return values[-1].decode("utf-8", "backslashreplace") if values else None

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def source_topic(self) -> str | None:
        return self.header("dlq.source.topic")

    @property
    def source_partition(self) -> int | None:
        return _int(self.header("dlq.source.partition"))

    @property
    def source_offset(self) -> int | None:
        return _int(self.header("dlq.source.offset"))

    @property
    def reason(self) -> str:
        return self.header("dlq.reason") or ""

    @property
    def attempts(self) -> int | None:
        return _int(self.header("dlq.attempts"))

    @property
    def failed_at(self) -> str | None:
        """As people here read it (Asia/Shanghai); the header itself is UTC."""
        return shanghai(self.header("dlq.failed_at"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition, "offset": self.offset, "key": None if self.key is None else shown_key(self.key),
            "source_topic": self.source_topic, "source_partition": self.source_partition, "source_offset": self.source_offset,
            "reason": self.reason, "attempts": self.attempts, "consumer": self.header("dlq.consumer"),
            "failed_at": self.failed_at, "redriven_from": self.header(REDRIVEN_FROM), "origin": self.header(ORIGIN),
            "redriven": list(self.redriven), "value_bytes": None if self.value is None else len(self.value),
        }


def shanghai(iso: str | None) -> str | None:
    """An ISO instant as people here read it (Asia/Shanghai); what does not parse, unchanged."""
    try:
        return datetime.fromisoformat(iso).astimezone(SHANGHAI).isoformat(timespec="seconds") if iso else None
    except ValueError:
        return iso


def _mark_of(record: ConsumerRecord) -> tuple[str, str] | None:
    """(letter P:O, "where at when") when the record is a redrive mark."""
    headers = dict(record.headers or ())
    if REDRIVE_OF not in headers:
        return None
    at = shanghai(headers.get(REDRIVEN_AT, b"").decode()) or "?"
    return headers[REDRIVE_OF].decode(), f"{headers.get(REDRIVEN_TO, b'?').decode()} at {at}"


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def parse_positions(text: str) -> list[Wanted]:
    """``P:O,P:O``; a bare ``O`` is allowed when the topic has one partition (checked on reading)."""
    out: list[Wanted] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        p, _, o = item.rpartition(":")
        try:
            partition, offset = (int(p) if p else None), int(o)
        except ValueError:
            partition = offset = -1
        if offset < 0 or (partition is not None and partition < 0):
            raise OpsError(f"not a dead-letter position: {item!r} (expected PARTITION:OFFSET, e.g. 2:17)")
        out.append((partition, offset))
    if not out:
        raise OpsError("no dead-letter positions given (expected PARTITION:OFFSET,...)")
    return out


def _matches(letter: DeadLetter, source_topic: str | None, reason_contains: str | None) -> bool:
    if source_topic is not None and letter.source_topic != source_topic:
        return False
    return reason_contains is None or reason_contains.casefold() in letter.reason.casefold()


async def _read(settings: Settings, wanted_at: list[Wanted] | None, progress: bool) -> list[DeadLetter]:
    """The dead letters at ``wanted_at``, or all of them, each with its redrive marks; a missing
    position is an error. The whole topic is read: a letter's marks come after it."""
    topic = deadletter_topic(settings.topic_prefix)
    async with reader(settings, "assetgw-dlq") as consumer:
        parts = await partitions_of(consumer, topic)
        positions = None if wanted_at is None else [_resolve(pos, parts, topic) for pos in wanted_at]
        tps = [TopicPartition(topic, p) for p in parts]
        begin, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        for p, o in positions or ():
            tp = TopicPartition(topic, p)
            if not begin[tp] <= o < end[tp]:
                raise OpsError(f"no dead letter at {p}:{o}: partition {p} of {topic} holds offsets {begin[tp]}..{end[tp] - 1}"
                               if end[tp] > begin[tp] else f"no dead letter at {p}:{o}: partition {p} of {topic} is empty")
        ranges = {tp: (begin[tp], end[tp]) for tp in tps}
        wanted = set(positions) if positions is not None else None
        letters, marks = [], {}
        with progress_bar(f"read {topic}", progress) as bar:
            task = bar.add_task("scan", total=sum(e - s for s, e in ranges.values()))
            async for record in scan(consumer, ranges, lambda: bar.advance(task)):
                if (mark := _mark_of(record)) is not None:
                    marks.setdefault(mark[0], []).append(mark[1])
                elif wanted is None or (record.partition, record.offset) in wanted:
                    letters.append(DeadLetter.of(record))
    letters = [replace(d, redriven=tuple(marks.get(d.position, ()))) for d in letters]
    if wanted is not None and len(letters) < len(wanted):
        missing = wanted - {(d.partition, d.offset) for d in letters}
        raise OpsError(f"no dead letter at {', '.join(f'{p}:{o}' for p, o in sorted(missing))} (compacted, or a redrive mark)")
    return letters


def _resolve(pos: Wanted, parts: list[int], topic: str) -> Position:
    p, o = pos
    if p is None:
        if len(parts) != 1:
            raise OpsError(f"{topic} has {len(parts)} partitions; give PARTITION:OFFSET, e.g. {parts[0]}:{o}")
        p = parts[0]
    if p not in parts:
        raise OpsError(f"{topic} has no partition {p} (it has {parts[0]}..{parts[-1]})")
    return p, o


async def list_dead_letters(
    settings: Settings, *, source_topic: str | None = None, reason_contains: str | None = None, progress: bool = True
) -> list[DeadLetter]:
    """Every dead letter, oldest first per partition, filtered by source topic and reason text."""
    return [d for d in await _read(settings, None, progress) if _matches(d, source_topic, reason_contains)]


async def show_dead_letter(settings: Settings, position: str) -> DeadLetter:
    """The dead letter at ``PARTITION:OFFSET`` (or ``OFFSET`` when the topic has one partition)."""
    positions = parse_positions(position)
    if len(positions) != 1:
        raise OpsError(f"show takes one position, got {len(positions)}")
    [letter] = await _read(settings, positions, progress=False)
    return letter


@dataclass(frozen=True)
class Redriven:
    dead_letter: str  # DLQ position P:O
    topic: str
    partition: int
    offset: int


@dataclass
class RedriveSummary:
    dlq_topic: str
    executed: bool
    selected: list[DeadLetter] = field(default_factory=list)
    sent: list[Redriven] = field(default_factory=list)

    @property
    def published(self) -> int:
        return len(self.sent)


async def redrive(
    settings: Settings,
    *,
    positions: str | list[Wanted] | None = None,
    source_topic: str | None = None,
    reason_contains: str | None = None,
    select_all: bool = False,
    execute: bool = False,
    progress: bool = True,
) -> RedriveSummary:
    """Re-publishes the selected dead letters to their source topics (same partition, same key and
    value). Selection: ``positions`` and/or the filters (all must hold), or ``select_all``.
    Without ``execute`` nothing is published."""
    if isinstance(positions, str):
        positions = parse_positions(positions)
    if select_all and (positions or source_topic or reason_contains):
        raise OpsError("--all selects every dead letter; do not combine it with --offsets, --source-topic or --reason-contains")
    if not (select_all or positions or source_topic or reason_contains):
        raise OpsError("say what to redrive: --offsets P:O,..., --source-topic T, --reason-contains S, or --all")
    letters = await _read(settings, positions or None, progress)
    # Chosen by filter or --all: what was redriven already is not sent again (named offsets are).
    summary = RedriveSummary(deadletter_topic(settings.topic_prefix), execute,
                             [d for d in letters if _matches(d, source_topic, reason_contains) and (positions or not d.redriven)])
    unroutable = [d.position for d in summary.selected if not d.source_topic]
    if unroutable:
        raise OpsError(f"dead letters without a dlq.source.topic header cannot be redriven: {', '.join(unroutable)}")
    if not execute or not summary.selected:
        return summary
    async with reader(settings, "assetgw-dlq") as consumer:  # check every target before sending any
        partitions = {t: await partitions_of(consumer, t) for t in {d.source_topic for d in summary.selected if d.source_topic}}
    producer = make_producer(settings, "assetgw-dlq-redrive")
    await start_producer(producer, settings)
    try:
        for d in summary.selected:
            assert d.source_topic is not None
            partition = d.source_partition if d.source_partition in partitions[d.source_topic] else None
            headers = [(k, v) for k, v in d.headers if k != REDRIVEN_FROM]
            headers.append((REDRIVEN_FROM, f"{d.topic}/{d.partition}/{d.offset}".encode()))
            meta = await producer.send_and_wait(d.source_topic, d.value, key=d.key, partition=partition, headers=headers)
            summary.sent.append(Redriven(d.position, meta.topic, meta.partition, meta.offset))
            await producer.send_and_wait(summary.dlq_topic, None, key=d.position.encode(), partition=d.partition, headers=[
                (REDRIVE_OF, d.position.encode()), (REDRIVEN_TO, f"{meta.topic}/{meta.partition}/{meta.offset}".encode()),
                (REDRIVEN_AT, utcnow().isoformat().encode())])
    except KafkaError as exc:
        raise OpsError(f"redrive failed after {summary.published} of {len(summary.selected)}: {exc!r}") from None
    finally:
        await producer.stop()
    return summary


# --- output -------------------------------------------------------------------------------------

def print_dead_letters(letters: list[DeadLetter], console: Console, title: str = "dead letters") -> None:
    """Two columns that fit 80: the positions whole (pasted into show and redrive), and the rest,
    which wraps."""
    table = Table(title=f"{title}: {len(letters)}", title_justify="left", show_edge=False, show_lines=True)
    cells = [lines(d.position, _source(d)) for d in letters]
    id_column(table, "dlq · source topic/partition/offset", cells)
    table.add_column("reason · attempts · failed at (+08:00) · redriven", overflow="fold")
    for cell, d in zip(cells, letters, strict=True):
        table.add_row(cell, lines(d.reason, f"attempts {d.attempts or '?'} · {d.failed_at or '?'}",
                                  *(f"redriven → {r}" for r in d.redriven)))
    console.print(table)


def _source(d: DeadLetter) -> str:
    if d.header(ORIGIN):  # rejected before any topic (an institution's event): where it came from
        return f"{d.header(ORIGIN)} → {d.source_topic}"
    return f"{d.source_topic}/{d.source_partition}/{d.source_offset}" if d.source_topic else "?"


def dead_letters_json(letters: list[DeadLetter]) -> str:
    return orjson.dumps([d.as_dict() for d in letters], option=orjson.OPT_INDENT_2).decode()


def print_dead_letter(d: DeadLetter, console: Console) -> None:
    console.rule(f"{inert(d.topic)} {inert(d.position)}")
    table = Table("header", "value", show_edge=False)
    table.columns[1].overflow = "fold"
    for k, v in d.headers:
        text = v.decode("utf-8", "backslashreplace")
        table.add_row(inert(k), inert(shanghai(text) if k == "dlq.failed_at" else text))  # as dlq list shows it
    for r in d.redriven:
        table.add_row("redriven", inert(r))
    console.print(table)
    console.print(f"key: {inert(shown_key(d.key))}")
    console.print("value:")
    # Line by line: the pretty JSON's own newlines stay newlines; any inside the data are shown escaped.
    console.print("\n".join(plain(line) for line in render_value(d.value).split("\n")), markup=False, highlight=False,
                  soft_wrap=True)


def render_value(value: bytes | None) -> str:
    """Pretty JSON when it parses, else the bytes as Python writes them."""
    if value is None:
        return "None (a tombstone)"
    try:
        return orjson.dumps(orjson.loads(value), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return repr(value)


def print_redrive(summary: RedriveSummary, console: Console) -> None:
    if summary.executed:
        table = Table(title=f"redriven: {summary.published}", title_justify="left", show_edge=False)
        id_column(table, "dlq", (r.dead_letter for r in summary.sent))
        id_column(table, "redriven to (topic/partition/offset)", (f"{r.topic}/{r.partition}/{r.offset}" for r in summary.sent))
        for r in summary.sent:
            table.add_row(inert(r.dead_letter), inert(f"{r.topic}/{r.partition}/{r.offset}"))
        console.print(table)
        return
    print_dead_letters(summary.selected, console, title="would redrive")
    if summary.selected:
        console.print("[yellow]dry run: nothing was published; add --execute to publish[/yellow]")
