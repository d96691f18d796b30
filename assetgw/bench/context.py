"""What a run was asked for (``Options``, from the command line) and what its phases share (``Ctx``)."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp

from assetgw.bench.common import COURT_CODE, SECTIONS


@dataclass
class Options:
    debtors: int
    latency_samples: int
    orders: int
    event_samples: int
    memory_scale: int
    raw_messages: int
    raw_trials: int
    realistic_latency: str
    skip: set[str]
    json_path: Path
    engine: str
    partitions: int
    smoke: bool
    data_dir: Path | None
    keep_data: bool
    intake_rows: int = 100_000
    bulk_rounds: int = 3
    persons: int = 10_000
    companies: int = 1_000
    store: str = "sqlite"  # the gateway's store: the embedded SQLite or a PostgreSQL server (pgserver)
    topic_retention_s: int = 0  # ASSETGW_TOPIC_RETENTION of the stack (0: the broker's default)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        skip = {s.strip().replace("-", "") for item in args.skip for s in item.split(",") if s.strip()}
        unknown = skip - set(SECTIONS)
        if unknown:
            raise SystemExit(f"bench: unknown --skip section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
        smoke = args.smoke
        debtors = args.debtors if args.debtors is not None else (50 if smoke else 5000)
        samples = args.latency_samples if args.latency_samples is not None else (20 if smoke else 200)
        orders = args.orders if args.orders is not None else (50 if smoke else 1000)
        event_samples = args.event_samples if args.event_samples is not None else (10 if smoke else 200)
        if debtors < 1 or samples < 1 or orders < 1 or event_samples < 1 or args.memory_scale < 0:
            raise SystemExit("bench: sizes must be positive")
        legs_guess = debtors * 28
        raw = args.raw_messages if args.raw_messages is not None else (10_000 if smoke else min(max(legs_guess, 20_000), 200_000))
        opts = cls(debtors, samples, orders, event_samples, args.memory_scale, raw, max(1, args.raw_trials), args.realistic_latency, skip,
                   Path(args.json),
                   args.engine, args.partitions, smoke, Path(args.data_dir) if args.data_dir else None, args.keep_data,
                   args.intake_rows if args.intake_rows is not None else (200 if smoke else 100_000))
        opts.bulk_rounds = args.bulk_rounds if args.bulk_rounds is not None else (1 if smoke else 3)
        opts.store = args.store
        opts.topic_retention_s = args.topic_retention
        if opts.intake_rows < 1 or opts.bulk_rounds < 1 or opts.topic_retention_s < 0:
            raise SystemExit("bench: sizes must be positive")
        # The simulators' population must hold every distinct debtor a run names (the bulk takes
        # 90% people, 10% companies); the bench and the simulators generate it from the same args.
        biggest = debtors * max(1, args.memory_scale if "memory" not in skip else 1)
        if smoke and biggest <= 2_000:
            opts.persons, opts.companies = 3_000, 300  # starts faster; same rules and skew
        else:
            opts.persons = max(10_000, math.ceil(biggest * 0.9) + 1_000)
            opts.companies = max(1_000, biggest // 10 + 200)
        return opts


@dataclass
class Ctx:
    opts: Options
    stack: Any
    http: aiohttp.ClientSession
    plain: aiohttp.ClientSession
    population: Any
    credential: str
    institutions: int
    prefix: str
    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    year: int = field(default_factory=lambda: date.today().year)

    def case(self, number: int) -> str:
        return f"({self.year}){COURT_CODE}执{number}号"
