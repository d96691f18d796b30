"""Garbage-collector settings for the long-lived services (gateway, connectors, simulators).

Each service builds a large heap at start that lives as long as the process: imported modules,
pydantic's validators, the simulators' population. CPython's full collections scan all of it
again and again: measured during the latency benchmark, pauses of 50-170 ms in a connector and
380 ms in the simulators, each one a latency outlier. ``settle()``, called once start-up is done,
moves that heap out of the collector's sight (``gc.freeze``), and a larger young-generation
threshold makes the young collections rarer: request handling allocates many short-lived objects,
and reference counting frees them without the collector's help anyway.

Every collection is timed (``assetgw_gc_pause_seconds``): a full one holds the GIL, and so every
thread, the event loop's too, for as long as it takes; one over ``LONG_PAUSE_S`` is logged.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import structlog

from infra import metrics

log = structlog.get_logger("heap")

YOUNG_THRESHOLD = 20_000  # CPython's default is 700 allocations
LONG_PAUSE_S = 0.05
_started: list[float] = []


def settle() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
        return
    if not _started:
        return
    pause = time.perf_counter() - _started.pop()
    metrics.GC_PAUSE.labels(str(info["generation"])).observe(pause)
    if pause >= LONG_PAUSE_S:
        log.warning("long garbage collection", generation=info["generation"], pause_ms=round(pause * 1000, 1),
                    collected=info["collected"])
