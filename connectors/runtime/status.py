"""Answering the gateway's control status queries: always exactly one report per query, never an
exception. The institution's answer is an ``answered`` report; whatever keeps it from answering
(after the worker's retries, within ``within_s``) is a ``failed`` report with the reason, so the
gateway's reconciliation run hears back either way."""

from __future__ import annotations

import time

import structlog

from connectors.contract.base import Connector, Permanent, Retryable
from connectors.runtime.calls import Attempts, InstitutionCalls, observe
from infra import metrics
from infra.settings import Settings
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import utcnow

log = structlog.get_logger("connector")


class StatusReporter:
    def __init__(self, connector: Connector, calls: InstitutionCalls, settings: Settings) -> None:
        self.connector = connector
        self.calls = calls
        # A query carries no deadline: all attempts at their timeout, and a breaker's cool-down.
        self.within_s = settings.call_timeout_s * settings.call_attempts + settings.breaker_cool_down_s

    async def report(self, query: ControlStatusQuery, institution: Institution) -> ControlStatusReport:
        started = time.monotonic()
        attempts = Attempts()
        try:
            answer = await self.calls.call(institution, lambda: self.connector.control_status(institution, query), attempts,
                                           self.within_s)
            # The query's identity, whatever the connector put there.
            report = answer.model_copy(update={"run_id": query.run_id, "institution_id": institution.id, "status": "answered"})
        except TimeoutError:
            report = failed(query, f"no answer from {institution.id} within {self.within_s:g}s")
        except (Permanent, Retryable) as exc:
            report = failed(query, f"after {attempts.count} attempts: {exc}")
        except Exception as exc:  # a connector bug must still answer the query
            log.exception("connector error", institution=institution.id)
            report = failed(query, f"connector error: {exc!r}"[:500])
        metrics.STATUS_QUERIES.labels(institution.id, report.status).inc()
        observe(institution.id, "status", started, attempts.count)
        return report


def failed(query: ControlStatusQuery, reason: str) -> ControlStatusReport:
    return ControlStatusReport(run_id=query.run_id, institution_id=query.institution_id, status="failed", reason=reason,
                               answered_at=utcnow())
