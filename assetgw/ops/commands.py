"""The ops subcommands (``replay``, ``dlq``) for the ``assetgw`` parser.

``assetgw.cli`` adds them with ``add_ops_commands(sub)``; ``python -m assetgw.ops.commands`` runs
them on their own. Errors end the process with status 1 and one clear line on stderr; argparse
rejects malformed arguments (status 2) before anything connects.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from rich.console import Console

from assetgw.ops import dlq, replay
from infra.settings import Settings

EPILOG_REPLAY = """\
examples:
  assetgw replay assetgw.inquiry.legs.bank --since 2025-11-22T09:00 --until 2025-11-22T10:00
  assetgw replay assetgw.control.orders.bank --key bank-03/6222020200001234567 --execute
  assetgw replay assetgw.inquiry.legs.land --partition 2 --from-offset 100 --to-offset 199 \\
      --to assetgw.inquiry.legs.land --rate 50 --execute

Times are ISO 8601; without an offset they are Asia/Shanghai. A dry run (the default) prints what
would be replayed; --execute publishes. Replaying legs or orders is safe: the gateway keeps the
first result, and institutions dedupe on the order id."""

EPILOG_DLQ = """\
examples:
  assetgw dlq list --source-topic assetgw.inquiry.legs.bank
  assetgw dlq show 2:17
  assetgw dlq redrive --reason-contains "unsupported schema_version"          # dry run
  assetgw dlq redrive --offsets 2:17,3:4 --execute"""


def _instant(text: str) -> datetime:
    try:
        return replay.parse_instant(text)
    except replay.OpsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _offset(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an offset (0 or more), got {text!r}")
    return int(text)


def _run(name: str, work: Callable[[Settings], Awaitable[int]]) -> None:
    """Runs one command; an ops or Kafka error ends it with status 1 and one line on stderr."""
    try:
        code = asyncio.run(work(Settings.from_env()))
    except replay.OpsError as exc:
        sys.exit(f"assetgw {name}: {exc}")
    except KafkaError as exc:
        sys.exit(f"assetgw {name}: Kafka error: {exc!r}")
    except KeyboardInterrupt:
        sys.exit(f"assetgw {name}: interrupted (copies already acknowledged stay published)")
    if code:
        sys.exit(code)


def _print_json(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def cmd_replay(args: argparse.Namespace) -> None:
    async def work(settings: Settings) -> int:
        summary = await replay.replay(
            settings, args.topic, target_topic=args.to, since=args.since, until=args.until,
            from_offset=args.from_offset, to_offset=args.to_offset, partition=args.partition, key=args.key,
            msg_type=args.type, case_number=args.case, rate=args.rate, execute=args.execute,
            progress=sys.stderr.isatty(), force=args.force,
        )
        if args.json:
            _print_json(summary.as_dict())
        else:
            replay.print_replay_summary(summary, Console())
        return 0

    _run("replay", work)


def cmd_dlq_list(args: argparse.Namespace) -> None:
    async def work(settings: Settings) -> int:
        letters = await dlq.list_dead_letters(settings, source_topic=args.source_topic, reason_contains=args.reason_contains,
                                              progress=sys.stderr.isatty())
        if args.json:
            print(dlq.dead_letters_json(letters))
        else:
            dlq.print_dead_letters(letters, Console())
        return 0

    _run("dlq list", work)


def cmd_dlq_show(args: argparse.Namespace) -> None:
    async def work(settings: Settings) -> int:
        dlq.print_dead_letter(await dlq.show_dead_letter(settings, args.position), Console())
        return 0

    _run("dlq show", work)


def cmd_dlq_redrive(args: argparse.Namespace) -> None:
    async def work(settings: Settings) -> int:
        summary = await dlq.redrive(settings, positions=args.offsets, source_topic=args.source_topic,
                                    reason_contains=args.reason_contains, select_all=args.all, execute=args.execute,
                                    progress=sys.stderr.isatty())
        if args.json:
            _print_json({"executed": summary.executed, "selected": [d.as_dict() for d in summary.selected],
                         "sent": [r.__dict__ for r in summary.sent]})
        else:
            dlq.print_redrive(summary, Console())
        return 0

    _run("dlq redrive", work)


def add_ops_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "replay", help="publish a range of a topic again (dry run unless --execute)", formatter_class=fmt, epilog=EPILOG_REPLAY,
        description="Read a range of TOPIC without joining any consumer group and publish the selected messages again, "
                    "keeping key, value and headers and adding the header replay.source=topic/partition/offset.",
    )
    p.add_argument("topic", metavar="TOPIC", help="topic to read, e.g. assetgw.inquiry.legs.bank")
    p.add_argument("--to", metavar="TOPIC", help="publish to this topic instead (default: TOPIC itself, same partition)")
    rng = p.add_argument_group("range (combined: every bound applies; default: the whole topic up to its end now)")
    rng.add_argument("--partition", type=int, metavar="P", help="only this partition")
    rng.add_argument("--from-offset", type=_offset, metavar="N", help="first offset, per partition (inclusive)")
    rng.add_argument("--to-offset", type=_offset, metavar="N", help="last offset, per partition (inclusive)")
    rng.add_argument("--since", type=_instant, metavar="TIME", help="messages at or after TIME (ISO 8601; naive = Asia/Shanghai)")
    rng.add_argument("--until", type=_instant, metavar="TIME", help="messages before TIME (ISO 8601; naive = Asia/Shanghai)")
    sel = p.add_argument_group("filters (all must hold; undecodable messages pass only when --type and --case are absent)")
    sel.add_argument("--key", metavar="K", help="exact message key, e.g. an order's INSTITUTION/ASSET or a leg message's first leg id")
    sel.add_argument("--type", metavar="T", help="envelope type, e.g. inquiry.legs.requested or control.order.requested")
    sel.add_argument("--case", metavar="C", help="payload case_number, e.g. (2025)冀0108执4502号")
    p.add_argument("--rate", type=_positive, metavar="N", help="publish at most N messages per second")
    p.add_argument("--execute", action="store_true", help="publish (without it: a dry run that only counts and lists)")
    p.add_argument("--force", action="store_true",
                   help="publish even messages of a type the target topic does not carry (its consumer dead-letters them)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("dlq", help="list, show and redrive dead letters", formatter_class=fmt, epilog=EPILOG_DLQ,
                       description="The dead-letter topic (PREFIX.deadletter) holds messages consumers could not process, "
                                   "unchanged, with dlq.* headers saying where they came from and why.")
    dsub = p.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    q = dsub.add_parser("list", help="a table of dead letters (position, source, reason, attempts, time)")
    q.add_argument("--source-topic", metavar="T", help="only letters from this topic")
    q.add_argument("--reason-contains", metavar="S", help="only letters whose reason contains S (any case)")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.set_defaults(func=cmd_dlq_list)
    q = dsub.add_parser("show", help="one dead letter: every header, the key and the value")
    q.add_argument("position", metavar="PARTITION:OFFSET", help="its position in the dead-letter topic (OFFSET alone if it has one partition)")
    q.set_defaults(func=cmd_dlq_show)
    q = dsub.add_parser("redrive", help="publish dead letters again to their source topics (dry run unless --execute)",
                        description="Re-publish the selected dead letters' original key and value to their source topic and "
                                    "partition, with the header dlq.redriven-from=dlqtopic/partition/offset. Mend the cause first: "
                                    "a letter that fails again is dead-lettered again.")
    q.add_argument("--offsets", metavar="P:O,...", help="these dead letters")
    q.add_argument("--source-topic", metavar="T", help="letters from this topic")
    q.add_argument("--reason-contains", metavar="S", help="letters whose reason contains S (any case)")
    q.add_argument("--all", action="store_true", help="every dead letter (not combinable with the selectors above)")
    q.add_argument("--execute", action="store_true", help="publish (without it: a dry run that lists what would go)")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.set_defaults(func=cmd_dlq_redrive)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="assetgw", description="asset-gateway operations tools")
    add_ops_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
