"""Reconciliation: ask every institution for the current state of what the gateway tracks there
(live freezes, money assets' balances), repair the gateway's copy from the answers and keep every
difference with the run — on demand (``assetgw reconcile``) and on a schedule, so a lost event
cannot leave the gateway wrong for long.

Questions travel like orders: a ``ControlStatusQuery`` on the institution kind's orders topic,
answered by the connector with a ``ControlStatusReport`` on the control results topic. A report is
as of the institution's feed position then, so it is never applied over a newer event."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from gateway.orders.shown import shown_times
from gateway.store.interfaces import InstitutionEvents, Reconciliations
from gateway.store.records import Difference, Reconciliation
from infra.clock import now_ms, shown
from infra.kafka.protocols import Producer
from infra.kafka.topics import orders_topic
from schemas.directory import Directory
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import encode, new_id

log = structlog.get_logger("reconcile")

PART = 1000  # ids per question, the most a ControlStatusQuery carries
# A freeze the connector gave up on (an outage longer than its retries) may still have been applied
# at the institution; for this long after, reconciliation asks about it too, and takes the
# institution's state if it holds one. Money must not stay frozen with the gateway unaware.
FAILED_LOOKBACK_MS = 7 * 24 * 3600 * 1000


class Reconciler:
    def __init__(self, events: InstitutionEvents, runs: Reconciliations, directory: Directory, producer: Producer,
                 topic_prefix: str) -> None:
        self.events = events
        self.runs = runs
        self.directory = directory
        self.producer = producer
        self.topic_prefix = topic_prefix

    async def start(self, requested_by: str) -> Reconciliation:
        """Asks every institution with something tracked; the run finishes when all have answered."""
        run_id = new_id()
        questions: list[ControlStatusQuery] = []
        for institution_id, tracked in self.events.tracked(now_ms() - FAILED_LOOKBACK_MS).items():
            if institution_id not in self.directory.by_id:
                continue
            n = max(len(tracked.freeze_ids), len(tracked.asset_ids))
            for start in range(0, n, PART):  # each part is answered, and counted, on its own
                questions.append(ControlStatusQuery(
                    run_id=f"{run_id}/{start // PART}", institution_id=institution_id,
                    freeze_ids=list(tracked.freeze_ids[start:start + PART]), asset_ids=list(tracked.asset_ids[start:start + PART])))
        self.runs.start(run_id, now_ms(), requested_by, [_part(q.run_id, q.institution_id) for q in questions])
        for q in questions:
            kind = self.directory.by_id[q.institution_id].kind
            await self.producer.send_and_wait(orders_topic(self.topic_prefix, kind), encode(q, run_id=run_id),
                                              key=q.institution_id.encode())
        log.info("reconciliation started", run_id=run_id, questions=len(questions), requested_by=requested_by)
        return self.runs.get(run_id)  # type: ignore[return-value]

    def on_reports(self, reports: Sequence[ControlStatusReport]) -> None:
        for report in reports:
            run_id = report.run_id.partition("/")[0]
            if report.status == "answered":
                differences = self.events.apply_report(report, now_ms())
                outcome = "answered"
            else:
                differences, outcome = [], f"failed: {report.reason or 'no reason given'}"
            self.runs.record(run_id, _part(report.run_id, report.institution_id), outcome, differences, now_ms())
            if differences:
                log.warning("reconciliation repaired differences", run_id=run_id, institution=report.institution_id,
                            differences=len(differences))

    async def every(self, interval_s: float, stop: asyncio.Event, leads: Callable[[], bool] = lambda: True) -> None:
        """Runs one reconciliation per interval until ``stop``; with several gateways on one store,
        only in the one that ``leads``."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                if not leads():
                    continue
                try:
                    await self.start("schedule")
                except Exception:  # the next interval tries again
                    log.exception("scheduled reconciliation failed to start")


def _part(question_id: str, institution_id: str) -> str:
    """One question's place in its run: the institution, and which part of its ids."""
    return f"{institution_id}#{question_id.partition('/')[2]}"


def _difference(d: Difference) -> dict[str, object]:
    # A freeze's dates differ as institution instants: shown in Asia/Shanghai like the order's.
    [gateway, institution] = shown_times({"changes": {d.field: [d.gateway, d.institution]}})["changes"][d.field]
    return {"institution_id": d.institution_id, "subject": d.subject, "field": d.field,
            "gateway": gateway, "institution": institution}


def run_view(run: Reconciliation) -> dict[str, object]:
    failed = {k: v for k, v in run.answered.items() if v != "answered"}
    return {
        "run_id": run.run_id, "requested_by": run.requested_by, "started_at": shown(run.started_at),
        "finished_at": shown(run.finished_at), "status": "finished" if run.finished_at is not None else "running",
        "questions": len(run.institutions), "answered": len(run.answered) - len(failed), "failed": failed,
        "differences": [_difference(d) for d in run.differences],
    }
