"""A circuit breaker per institution: after repeated failures stop calling it for a while, then
let one probe through; a success closes the circuit, a failure opens it again.

An open circuit does not fail legs outright: it raises ``Retryable`` with the time left until the
probe, so the worker's retry loop waits (within the leg's deadline) instead of hammering a broken
institution — and the legs of healthy institutions, which have their own breakers and in-flight
caps, are never held up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.contract.base import Retryable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class CircuitBreaker:
    name: str
    failure_threshold: int = 5
    cool_down_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    state: str = field(default=CLOSED, init=False)
    failures: int = field(default=0, init=False)
    opened_at: float = field(default=0.0, init=False)
    probing: bool = field(default=False, init=False)

    def before_call(self) -> None:
        """Raise ``Retryable`` if the institution may not be called now."""
        if self.state == OPEN:
            wait = self.cool_down_s - (self.clock() - self.opened_at)
            if wait > 0:
                raise Retryable(f"circuit open for {self.name}: too many failures", retry_after=wait)
            self.state = HALF_OPEN
        if self.state == HALF_OPEN:
            if self.probing:
                raise Retryable(f"circuit half-open for {self.name}: a probe is under way", retry_after=min(self.cool_down_s, 1.0))
            self.probing = True

    def succeeded(self) -> None:
        self.state, self.failures, self.probing = CLOSED, 0, False

    def abandoned(self) -> None:
        """A call given up by the caller: let the next one probe."""
        self.probing = False

    def failed(self) -> None:
        self.probing = False
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.failure_threshold:
            self.state, self.opened_at = OPEN, self.clock()
