"""Client-side pacing of empty fetches, for brokers that do not long-poll.

Apache Kafka holds an empty fetch until ``fetch_max_wait_ms`` passes or data arrives, so an
idle consumer costs nothing. noida-db answers empty fetches at once, and aiokafka then re-fetches
in a tight loop (measured: ~2,200 fetches/s, most of a core, per idle consumer). This shim makes
a fetch that came back empty wait before the next one: 1 ms after the first empty answer,
doubling with each empty answer in a row up to ``PACE_S``. A consumer that just had data (one
step of a request and its answer) so looks again soon. One that has had nothing for
``IDLE_AFTER_S`` is idle, and waits ``IDLE_PACE_S`` between fetches: a stack of eight processes
and a dozen consumers at 10 ms took about half a core doing nothing (issue 18); the price is that
the first message after a quiet spell waits up to ``IDLE_PACE_S`` at each hop (traffic that keeps
coming never does). Against a broker that long-polls it never waits (empty answers are already slow).
"""

from __future__ import annotations

import asyncio
import os
import time

from aiokafka.consumer.fetcher import Fetcher

# The ceiling trades idle CPU for the delay of a Kafka hop (on average half of it). Measured on
# 2 cores: 5 ms gave one-debtor bursts a lower p99 but cost more CPU than it saved when answers
# trickle in; 10 ms is the default. Only read at start; other brokers need no pacing at all.
PACE_S = float(os.environ.get("ASSETGW_FETCH_PACE_MS", "10")) / 1000
FIRST_PACE_S = min(0.001, PACE_S)
IDLE_PACE_S = max(PACE_S, float(os.environ.get("ASSETGW_FETCH_IDLE_PACE_MS", "500")) / 1000)
IDLE_AFTER_S = 2.0
_original = getattr(Fetcher, "_proc_fetch_request", None)


async def _paced_fetch(self, assignment, node_id, request):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    has_new_data = await _original(self, assignment, node_id, request)  # type: ignore[misc]
    # Capped: the count only needs to reach the doubling's ceiling (1 ms × 2^4 > PACE_S).
    empty_in_a_row = 0 if has_new_data else min(getattr(self, "_assetgw_empty", 0) + 1, 8)
    self._assetgw_empty = empty_in_a_row
    if has_new_data or empty_in_a_row == 1:
        self._assetgw_empty_since = started
    if not has_new_data:
        idle = started - self._assetgw_empty_since >= IDLE_AFTER_S
        pace = IDLE_PACE_S if idle else min(PACE_S, FIRST_PACE_S * 2 ** (empty_in_a_row - 1))
        remaining = pace - (time.monotonic() - started)
        if remaining > 0:
            try:
                await asyncio.sleep(remaining)
            except asyncio.CancelledError:  # closing or unassigned: as aiokafka's own fetch does
                return False
    return has_new_data


def install() -> bool:
    """Idempotent; returns False if this aiokafka has no such hook (pacing is then skipped)."""
    if _original is None:
        return False
    Fetcher._proc_fetch_request = _paced_fetch  # type: ignore[method-assign]  # noqa: SLF001 - no public hook
    return True
