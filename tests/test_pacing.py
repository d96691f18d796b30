"""The empty-fetch pacing schedule (infra/kafka/pacing.py) against a broker that answers at once:
1 ms after the first empty fetch, doubling to 10 ms, the idle pace once nothing came for two
seconds, back to 1 ms after data — and no limit on how long a consumer may stay idle (a streak
count once overflowed after ~10 s of idling)."""

from __future__ import annotations

import types

import pytest

from infra.kafka import pacing


async def test_pacing_doubles_to_its_ceiling_resets_on_data_and_survives_long_idling(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    answers: list[bool] = []
    waits: list[float] = []

    async def broker_answers_at_once(self, assignment, node_id, request):  # type: ignore[no-untyped-def]
        return answers.pop(0)

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(pacing, "_original", broker_answers_at_once)
    monkeypatch.setattr(pacing.asyncio, "sleep", record_sleep)
    # A frozen clock: on a loaded machine a fetch could otherwise seem to take longer than its pace
    # (the test process descheduled), and its wait would be skipped.
    monkeypatch.setattr(pacing, "time", types.SimpleNamespace(monotonic=lambda: 0.0))
    fetcher = type("Fetcher", (), {})()
    answers.extend([False] * 3000 + [True, False])
    for _ in range(3002):
        await pacing._paced_fetch(fetcher, None, 0, None)
    assert waits[:5] == pytest.approx([0.001, 0.002, 0.004, 0.008, 0.01], abs=5e-4)
    assert max(waits) <= pacing.PACE_S and waits[2999] == pytest.approx(0.01, abs=5e-4)
    assert waits[-1] == pytest.approx(0.001, abs=5e-4) and len(waits) == 3001  # no wait after data


async def test_an_idle_consumer_slows_to_the_idle_pace_and_wakes_on_data(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = [0.0]
    answers: list[bool] = []
    waits: list[float] = []

    async def broker_answers_at_once(self, assignment, node_id, request):  # type: ignore[no-untyped-def]
        return answers.pop(0)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(pacing, "_original", broker_answers_at_once)
    monkeypatch.setattr(pacing.asyncio, "sleep", sleep)
    monkeypatch.setattr(pacing, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    fetcher = type("Fetcher", (), {})()
    answers.extend([False] * 400 + [True, False, False])
    for _ in range(403):
        await pacing._paced_fetch(fetcher, None, 0, None)
    idle_from = next(i for i, w in enumerate(waits) if w > pacing.PACE_S)
    # Paced at 10 ms for the first two seconds of quiet, then at the idle pace.
    assert sum(waits[:idle_from]) == pytest.approx(pacing.IDLE_AFTER_S, abs=pacing.PACE_S)
    assert waits[idle_from:400] == pytest.approx([pacing.IDLE_PACE_S] * (400 - idle_from))
    assert pacing.IDLE_PACE_S >= 10 * pacing.PACE_S
    # Data: the next empty answers are paced from 1 ms again.
    assert waits[400:] == pytest.approx([0.001, 0.002], abs=5e-4)
