"""Asking institutions for a message's legs: per institution in chunks of at most the connector's
``max_batch``, all chunks concurrently, the answers yielded as they come (a slow institution holds
back only its own legs), one terminal result per leg whatever happens."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator

import structlog

from connectors.contract.base import Answer, Connector, Found, NotFound, Permanent, Retryable
from connectors.runtime.calls import Attempts, InstitutionCalls, observe
from infra import metrics
from infra.settings import Settings
from schemas.directory import Institution
from schemas.messages import LegBatch, LegBatchResult, LegItem, LegResult, utcnow

log = structlog.get_logger("connector")


class LegAnswers:
    def __init__(self, connector: Connector, settings: Settings, calls: InstitutionCalls) -> None:
        self.connector = connector
        self.settings = settings
        self.calls = calls

    async def answers(self, batch: LegBatch) -> AsyncIterator[tuple[LegBatchResult, bool]]:
        """Ask each institution for its legs, a chunk of at most ``max_batch`` legs per call, all
        chunks concurrently, and yield ``(results, last)`` as they come: what finishes within
        ``result_linger_s`` of an answer goes out with it, and the last answer goes out at once, so
        a slow institution holds back only its own legs. One terminal result per leg in all,
        never raises. The institutions must be in the directory (the worker checks)."""
        remaining = (batch.deadline - utcnow()).total_seconds()
        if remaining <= 0:
            yield _batch_result(batch, [_result(leg, "timed_out", "the leg's deadline had passed before it reached the connector")
                                        for leg in batch.legs]), True
            return
        by_institution: dict[str, list[LegItem]] = defaultdict(list)
        for leg in batch.legs:
            by_institution[leg.institution_id].append(leg)
        size = max(1, self.connector.max_batch)
        order: dict[asyncio.Task[list[LegResult]], int] = {}
        for institution_id, legs in by_institution.items():
            institution = self.settings.directory.by_id[institution_id]
            for i in range(0, len(legs), size):
                order[asyncio.create_task(self._ask_chunk(batch.part(legs[i:i + size]), institution, remaining))] = len(order)
        pending = set(order)
        started, outcomes = time.monotonic(), Counter[str]()
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if pending and self.settings.result_linger_s > 0:  # more answers may follow soon: take them along
                    more, pending = await asyncio.wait(pending, timeout=self.settings.result_linger_s)
                    done |= more
                result = _batch_result(batch, [r for t in sorted(done, key=order.__getitem__) for r in t.result()])
                outcomes.update(r.status for r in result.results)
                yield result, not pending
            # One line per message, not per leg: what a bulk run did, institution by institution in the metrics.
            log.info("legs answered", inquiry_id=batch.inquiry_id, kind=batch.institution_kind, legs=len(batch.legs),
                     institutions=len(by_institution), calls=len(order), seconds=round(time.monotonic() - started, 3),
                     **dict(sorted(outcomes.items())))
        finally:
            for task in pending:  # the message was abandoned (shutdown): stop asking
                task.cancel()

    async def _ask_chunk(self, chunk: LegBatch, institution: Institution, remaining: float) -> list[LegResult]:
        started = time.monotonic()
        attempts = Attempts()
        answers: dict[str, Answer] = {}

        async def ask_the_rest() -> None:
            # A retry asks again only for the legs the institution has not answered yet.
            rest = [leg for leg in chunk.legs if leg.leg_id not in answers]
            got = await self.connector.query(institution, chunk.part(rest))
            answers.update((leg.leg_id, got[leg.leg_id]) for leg in rest if leg.leg_id in got)
            missing = len(rest) - sum(1 for leg in rest if leg.leg_id in got)
            if missing:
                raise Retryable(f"{institution.id} left {missing} of {len(rest)} legs out of its answer")

        failure: tuple[str, str] | None = None
        try:
            await self.calls.call(institution, ask_the_rest, attempts, remaining)
        except TimeoutError:
            failure = ("timed_out", f"no answer from {institution.id} before the leg deadline")
            log.warning("legs timed out: the institution stopped answering", institution=institution.id, legs=len(chunk.legs))
        except Permanent as exc:
            failure = ("failed", str(exc))
        except Retryable as exc:
            failure = ("failed", f"gave up after {attempts.count} attempts: {exc}")
            log.warning("legs failed: the institution gave no usable answer", institution=institution.id, legs=len(chunk.legs),
                        error=str(exc))
        except Exception as exc:  # a connector bug must still end the legs
            log.exception("connector error", institution=institution.id)
            failure = ("failed", f"connector error: {exc!r}"[:500])
        observe(institution.id, "query", started, attempts.count)
        out = []
        for leg in chunk.legs:
            answer = answers.get(leg.leg_id)
            if answer is None:  # the institution never answered for this leg
                status, reason = failure or ("failed", f"{institution.id} gave no answer for the leg")
                out.append(_result(leg, status, reason, attempts.count, started))
            elif isinstance(answer, Found):
                out.append(_result(leg, "found", None, attempts.count, started, answer))
            else:
                out.append(_result(leg, "not_found" if isinstance(answer, NotFound) else "refused", answer.reason,
                                   attempts.count, started))
        return out


def _batch_result(batch: LegBatch, results: list[LegResult]) -> LegBatchResult:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in results:
        counts[(r.institution_id, r.status)] += 1
    for (institution_id, status), n in counts.items():
        metrics.LEGS.labels(institution_id, status).inc(n)
    return LegBatchResult(inquiry_id=batch.inquiry_id, results=results, answered_at=utcnow())


def _result(
    leg: LegItem,
    status: str,
    reason: str | None,
    attempts: int = 0,
    started: float | None = None,
    answer: Found | None = None,
) -> LegResult:
    latency_ms = int((time.monotonic() - started) * 1000) if started is not None else 0
    return LegResult(
        leg_id=leg.leg_id,
        institution_id=leg.institution_id,
        status=status,  # type: ignore[arg-type]
        assets=list(answer.assets) if answer else [],
        reason=reason,
        attempts=attempts,
        latency_ms=latency_ms,
    )
