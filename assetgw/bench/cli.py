"""The command line: ``assetgw bench`` and ``scripts/bench.py`` share these arguments."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from assetgw.bench import __doc__ as HARNESS_DOC
from assetgw.bench.common import REALISTIC_LATENCY, SECTIONS, console
from assetgw.bench.context import Options
from assetgw.bench.run import run_bench


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debtors", type=int, default=None, help="debtors in the bulk run, each over every institution (default 5000; --smoke 50)")
    p.add_argument("--bulk-rounds", type=int, default=None,
                   help="bulk runs, each after a direct fan-out of the same debtors (default 3; --smoke 1)")
    p.add_argument("--latency-samples", type=int, default=None, help="sequential one-debtor inquiries per latency setting (default 200; --smoke 20)")
    p.add_argument("--orders", type=int, default=None, help="freeze orders in the orders run (default 1000; --smoke 50)")
    p.add_argument("--event-samples", type=int, default=None,
                   help="money arrivals timed from credit to automatic freeze, one at a time (default 200; --smoke 10)")
    p.add_argument("--intake-rows", type=int, default=None,
                   help="rows of the CSV batch posted and read back in the intake section (default 100000; --smoke 200)")
    p.add_argument("--memory-scale", type=int, default=0, metavar="K",
                   help="also run a bulk K times larger (e.g. 10) to show memory does not grow with the batch (long; default off)")
    p.add_argument("--raw-messages", type=int, default=None,
                   help="messages in the raw-ceiling run (default: the bulk run's legs, at least 20,000, at most 200,000)")
    p.add_argument("--raw-trials", type=int, default=3, help="raw-ceiling trials; the best counts (default 3)")
    p.add_argument("--realistic-latency", default=REALISTIC_LATENCY, metavar="MEDIAN:P99",
                   help=f"institution latency for the realistic latency run (default {REALISTIC_LATENCY} ms)")
    p.add_argument("--skip", action="append", default=[], metavar="SECTION",
                   help=f"skip sections (repeatable or comma-separated): {', '.join(SECTIONS)}")
    p.add_argument("--json", default="bench-results.json", metavar="FILE", help="where to write the results (default bench-results.json)")
    p.add_argument("--engine", choices=("noida", "tansu"), default="noida", help="embedded broker (ignored when KAFKA_BOOTSTRAP is set)")
    p.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                   help="the gateway's store: embedded SQLite (default) or PostgreSQL (a pgserver the bench starts)")
    p.add_argument("--topic-retention", type=int, default=0, metavar="S",
                   help="seconds the broker keeps the stack's messages (ASSETGW_TOPIC_RETENTION; default 0: the broker's own)")
    p.add_argument("--partitions", type=int, default=4, help="partitions per topic, stack and raw ceiling alike (default 4)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes that finish in well under two minutes (a check that the harness works)")
    p.add_argument("--data-dir", default=None, help="state and logs (default: a fresh temporary directory, removed unless --keep-data)")
    p.add_argument("--keep-data", action="store_true", help="keep the data directory (logs) afterwards")


def add_bench_command(sub: Any) -> None:
    """``assetgw bench``: the same harness as ``scripts/bench.py``."""
    p = sub.add_parser("bench", help="benchmark the whole stack (throughput, latency, orders, memory, scale-out) against targets")
    add_arguments(p)
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> None:
    sys.exit(run(args))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.py", description=(HARNESS_DOC or "").split("\n\n")[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args(argv)))


def run(args: argparse.Namespace) -> int:
    opts = Options.from_args(args)
    try:
        return asyncio.run(run_bench(opts))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted")
        return 130


if __name__ == "__main__":
    main()
