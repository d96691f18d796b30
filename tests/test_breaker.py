"""The circuit breaker's states, on a fake clock."""

from __future__ import annotations

import pytest

from connectors.contract.base import Retryable
from connectors.runtime.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_opens_after_repeated_failures_probes_once_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker("bank-01", failure_threshold=3, cool_down_s=5, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.failed()
    assert breaker.state == CLOSED
    breaker.before_call()
    breaker.failed()
    assert breaker.state == OPEN
    with pytest.raises(Retryable) as exc:
        breaker.before_call()
    assert exc.value.retry_after == pytest.approx(5)
    clock.t += 5
    breaker.before_call()  # the probe
    assert breaker.state == HALF_OPEN
    with pytest.raises(Retryable, match="probe"):
        breaker.before_call()  # only one probe at a time
    breaker.succeeded()
    assert breaker.state == CLOSED and breaker.failures == 0
    breaker.before_call()


def test_a_failed_probe_opens_again_and_an_abandoned_one_frees_the_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker("land-01", failure_threshold=1, cool_down_s=2, clock=clock)
    breaker.before_call()
    breaker.failed()
    clock.t += 2
    breaker.before_call()
    breaker.abandoned()
    breaker.before_call()  # a new probe may go
    breaker.failed()
    assert breaker.state == OPEN and breaker.opened_at == clock.t
