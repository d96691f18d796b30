"""Calls to institutions, under the worker's policy: a deadline over all attempts, a cap on calls in
flight per institution, a circuit breaker per institution, and retries of what is ``Retryable``
with jittered backoff that honours the institution's Retry-After. Latency and retries are metered."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import aiohttp
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from connectors.contract.base import Permanent, Retryable
from connectors.runtime.breaker import OPEN, CircuitBreaker
from infra import metrics
from infra.settings import Settings
from schemas.directory import Institution

T = TypeVar("T")
log = structlog.get_logger("connector")


def backoff_s(failures: int, exc: BaseException | None) -> float:
    """Jittered exponential backoff after ``failures`` failed attempts (up to 50 ms, 100 ms, …,
    2 s), but never sooner than the institution's Retry-After."""
    delay = random.uniform(0, min(2.0, 0.05 * 2 ** (failures - 1)))
    if isinstance(exc, Retryable) and exc.retry_after is not None:
        delay = max(delay, exc.retry_after)
    return delay


class Attempts:
    """How many attempts a call took; read after the call, whether it succeeded or not."""

    def __init__(self) -> None:
        self.count = 0


class InstitutionCalls:
    def __init__(self, settings: Settings, metered: bool = True) -> None:
        """``metered``: count calls in ``assetgw_inflight_requests`` (the event relay's long-polls,
        open by design while a feed is idle, are not load and would hide it)."""
        self.settings = settings
        self.metered = metered
        self._limits: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.max_inflight_per_institution)
        )
        self._breakers: dict[str, CircuitBreaker] = {}

    async def call(self, institution: Institution, call: Callable[[], Awaitable[T]], attempts: Attempts,
                   within_s: float, attempt_timeout_s: float | None = None) -> T:
        """``call`` until it answers, within ``within_s`` for all attempts (``TimeoutError`` past
        it), as one of the institution's calls in flight. Raises what the last attempt raised.
        Each attempt may take ``call_timeout_s``, or ``attempt_timeout_s`` (a long-poll's), and a
        polling bank's attempt the time its answer file takes on top."""
        async with asyncio.timeout(within_s):
            async with self._limits[institution.id]:
                with _in_flight(institution.id) if self.metered else contextlib.nullcontext():
                    timeout_s = (attempt_timeout_s or self.settings.call_timeout_s) + self.settings.polling_allowance_s(institution)
                    return await self._with_retries(institution, call, attempts, timeout_s)

    async def _with_retries(self, institution: Institution, call: Callable[[], Awaitable[T]], attempts: Attempts,
                            timeout_s: float) -> T:
        """Retry what is Retryable up to ``call_attempts`` times in all. The first attempt runs
        bare: nearly every call succeeds at once, and tenacity's per-attempt bookkeeping was ~15% of
        a bank call's CPU (py-spy); retries go through tenacity."""
        breaker = self._breaker(institution.id)
        try:
            return await self._attempt(institution, breaker, call, attempts, timeout_s)
        except Retryable as exc:
            if self.settings.call_attempts < 2:
                raise
            await asyncio.sleep(backoff_s(1, exc))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.call_attempts - 1),
            wait=lambda state: backoff_s(state.attempt_number + 1, state.outcome.exception() if state.outcome else None),
            retry=retry_if_exception_type(Retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(institution, breaker, call, attempts, timeout_s)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _attempt(self, institution: Institution, breaker: CircuitBreaker, call: Callable[[], Awaitable[T]],
                       attempts: Attempts, timeout_s: float) -> T:
        """One call, within ``timeout_s``, telling the breaker how the link fared."""
        attempts.count += 1
        breaker.before_call()
        try:
            async with asyncio.timeout(timeout_s):
                answer = await call()
        except TimeoutError:
            _failed(institution, breaker, "stops answering", f"no answer within {timeout_s:g}s")
            raise Retryable(f"{institution.id} did not answer within {timeout_s:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            _failed(institution, breaker, "failing", f"connection error: {exc!r}"[:300])
            raise Retryable(f"{institution.id} connection error: {exc!r}"[:300]) from None
        except Retryable as exc:
            _failed(institution, breaker, "failing", str(exc))
            raise
        except Permanent:
            breaker.succeeded()  # it answered, if unhelpfully: the link works
            raise
        except asyncio.CancelledError:
            breaker.abandoned()  # the leg's deadline, or shutdown: no verdict on the institution
            raise
        finally:
            metrics.BREAKER_OPEN.labels(institution.id).set(1 if breaker.state == OPEN else 0)
        breaker.succeeded()
        return answer

    def _breaker(self, institution_id: str) -> CircuitBreaker:
        breaker = self._breakers.get(institution_id)
        if breaker is None:
            breaker = self._breakers[institution_id] = CircuitBreaker(
                institution_id, self.settings.breaker_failures, self.settings.breaker_cool_down_s
            )
        return breaker


def _failed(institution: Institution, breaker: CircuitBreaker, what: str, error: str) -> None:
    """Tell the breaker, and ops: a warning per cause, which the log's repeat filter
    (``infra.log_repeats``) lets through once per 30 s with the count of the rest."""
    was = breaker.state
    breaker.failed()
    log.warning(f"institution {what}", institution=institution.id, error=error)
    if breaker.state == OPEN and was != OPEN:
        log.warning("circuit opened: calls to the institution paused", institution=institution.id,
                    failures=breaker.failures, pause_s=breaker.cool_down_s)


def observe(institution_id: str, operation: str, started: float, attempts: int) -> None:
    """Meter one call's latency (all its attempts) and its retries."""
    metrics.LATENCY.labels(institution_id, operation).observe(time.monotonic() - started)
    if attempts > 1:
        metrics.RETRIES.labels(institution_id).inc(attempts - 1)


@contextlib.contextmanager
def _in_flight(institution_id: str) -> Iterator[None]:
    gauge = metrics.INFLIGHT.labels(institution_id)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()
