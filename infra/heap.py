"""Garbage-collector settings for the long-lived services (gateway, connectors, simulators).

Each service builds a large heap at start that lives as long as the process: imported modules,
pydantic's validators, the simulators' population. CPython's full collections scan all of it
again and again: measured during the latency benchmark, pauses of 50-170 ms in a connector and
380 ms in the simulators, each one a latency outlier. ``settle()``, called once start-up is done,
moves that heap out of the collector's sight (``gc.freeze``), and a larger young-generation
threshold makes the young collections rarer: request handling allocates many short-lived objects,
and reference counting frees them without the collector's help anyway.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # CPython's default is 700 allocations


def settle() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
