"""Client-side pacing of empty fetches, for brokers that do not long-poll.

Apache Kafka holds an empty fetch until ``fetch_max_wait_ms`` passes or data arrives, so an
idle consumer costs nothing. noida-db answers empty fetches at once, and aiokafka then re-fetches
in a tight loop (measured: ~2,200 fetches/s, most of a core, per idle consumer). This shim makes
a fetch that came back empty sooner than ``PACE_S`` wait out the rest of ``PACE_S`` before the
next one. Against a broker that long-polls it never waits (empty answers are already slow);
against one that does not, it costs at most ``PACE_S`` of latency on the first message after
an idle spell.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka.consumer.fetcher import Fetcher

PACE_S = 0.01
_original = getattr(Fetcher, "_proc_fetch_request", None)


async def _paced_fetch(self, assignment, node_id, request):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    has_new_data = await _original(self, assignment, node_id, request)  # type: ignore[misc]
    if not has_new_data:
        remaining = PACE_S - (time.monotonic() - started)
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
    Fetcher._proc_fetch_request = _paced_fetch  # type: ignore[method-assign]
    return True
