"""What every part of the bench shares: the fixed case data, the targets and the console."""

from __future__ import annotations

import os
import sys
from datetime import datetime

from rich.console import Console

SECTIONS = ("idle", "raw", "latency", "bulk", "orders", "events", "memory", "scaleout", "intake")
COURT, COURT_CODE = "石家庄市裕华区人民法院", "冀0108"
OFFICER = "BENCH-1"
SEED = 20251122
CASE_SIZE = 100  # debtors per case in a bulk batch (rows sharing a case form one inquiry)
MAX_BATCH_ROWS = 100_000  # the gateway's limit per batch; larger runs post several batches at once
AMOUNT_DUE_FEN = 10**13  # large enough that no freeze in the run is over-freezing
REALISTIC_LATENCY = "30:300"
ORDERS_STALL_S = 30.0  # orders: give up waiting when none has been answered for this long
TARGET_RATIO, TARGET_LEGS_S, TARGET_OVERHEAD_MS, TARGET_RSS_MB, TARGET_LEGS = 0.25, 5000.0, 50.0, 300.0, 1_000_000
TARGET_HEALTHZ_P99_MS, TARGET_INTAKE_RSS_MB = 200.0, 300.0  # during a 100,000-row batch and its read back (issue 15)
# Issue 18: end to end against the direct fan-out of the same run; successive runs on one stack;
# orders; an idle stack.
TARGET_DIRECT_RATIO, TARGET_SUCCESSIVE_SPREAD = 0.5, 0.10
TARGET_ORDERS_S, TARGET_ORDER_P99_MS, TARGET_IDLE_SHARE = 1000.0, 200.0, 0.10
TARGET_EVENT_P99_MS = 1000.0  # money credited → automatic freeze applied at the bank (seed 003: "within minutes")
MB = 1024 * 1024

console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def every_bank_takes_calls() -> None:
    """A bank that polls the file exchange answers on its own schedule (seconds), so in the bench
    it would time its polling interval, not our code, in every figure. The file exchange is proved
    by tests/test_polling_banks.py; the bench process and the stacks it starts (which inherit the
    environment) read this one setting."""
    os.environ["ASSETGW_POLLING_BANKS"] = "0"


def parse_shown(text: str) -> float:
    """An API timestamp (ISO 8601 with offset, ms precision) as epoch seconds."""
    return datetime.fromisoformat(text).timestamp()
