"""The empty-fetch pacing schedule (infra/kafka/pacing.py) against a broker that answers at once:
1 ms after the first empty fetch, doubling to 10 ms, back to 1 ms after data — and no limit on how
long a consumer may stay idle (a streak count once overflowed after ~10 s of idling)."""

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
