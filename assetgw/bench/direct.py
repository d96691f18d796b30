"""The direct fan-out ceiling (issue 18): the same debtors asked of the same simulators through
the project's own connector classes and signed transport, but straight from one asyncio loop,
with no Kafka, no store and nothing kept. What the gateway delivers end to end is measured as a
share of this, in the same run; the CPU each process spends per leg shows what each stage costs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from assetgw.bench.common import COURT, console
from assetgw.bench.context import Ctx
from assetgw.bench.stack import Sampler
from connectors.contract.base import Found, NotFound
from connectors.contract.registry import load_connectors
from connectors.contract.transport import HttpTransport
from infra.settings import Settings
from schemas.directory import QUERY_KINDS
from schemas.messages import LegBatch, LegItem
from schemas.signing import load_partner_keys


async def direct_fan_out(ctx: Ctx, label: str, debtors: list[Any]) -> dict[str, Any]:
    """Every debtor asked of every institution that answers inquiries, in chunks of each
    connector's ``max_batch``, at most ``max_inflight_per_institution`` calls per institution at
    once (the connector workers' own cap); legs/s from the first call to the last answer."""
    env = ctx.stack.env  # the stack's simulators and partner keys
    settings = Settings.from_env()  # the connector workers' defaults (caps), as in the stack
    keys = load_partner_keys(env)
    factories = load_connectors()
    kinds = [k for k in QUERY_KINDS if settings.directory.of_kind(k)]
    connectors = {k: factories[k](HttpTransport(env[f"ASSETGW_SIM_URL_{k.upper()}"], keys=keys)) for k in kinds}
    deadline = datetime.now(UTC) + timedelta(hours=1)
    case = ctx.case(90_000)
    calls: list[tuple[Any, Any, LegBatch]] = []
    for kind, connector in connectors.items():
        for institution in settings.directory.of_kind(kind):
            for start in range(0, len(debtors), max(1, connector.max_batch)):
                legs = [LegItem(leg_id=uuid.uuid4().hex, institution_id=institution.id,
                                debtor={"kind": d.kind, "id_number": d.id_number, "name": d.name})
                        for d in debtors[start:start + connector.max_batch]]
                calls.append((connector, institution, LegBatch(
                    inquiry_id=uuid.uuid4().hex, case_number=case, court=COURT, notice_number=f"{case}-查",
                    officer_credentials=[ctx.credential], institution_kind=kind, deadline=deadline, legs=legs)))
    caps = {i.id: asyncio.Semaphore(settings.max_inflight_per_institution) for i in settings.directory.queryable()}
    answers: Counter[str] = Counter()

    async def ask(connector: Any, institution: Any, batch: LegBatch) -> None:
        async with caps[institution.id]:
            got = await connector.query(institution, batch)
        for answer in got.values():
            answers["found" if isinstance(answer, Found) else "not_found" if isinstance(answer, NotFound) else "refused"] += 1
        answers["missing"] += len(batch.legs) - len(got)

    legs = sum(len(b.legs) for _, _, b in calls)
    try:
        with Sampler(ctx.stack.pids()) as sampler:
            t0 = time.monotonic()
            await asyncio.gather(*(ask(*c) for c in calls))
            seconds = time.monotonic() - t0
    finally:
        await asyncio.gather(*(c.aclose() for c in connectors.values()))
    report = sampler.report()
    # The asking is done by this process ("bench"); the rest of the stack sits idle meanwhile.
    cpu = {name: report["cpu_seconds"].get(name, 0.0) for name in ("bench", "simulator")}
    out = {
        "debtors": len(debtors), "legs": legs, "calls": len(calls), "seconds": round(seconds, 3),
        "legs_per_s": round(legs / seconds, 1), "answers": dict(sorted(answers.items())),
        "cpu_seconds": report["cpu_seconds"],
        "cpu_ms_per_leg": {name: round(1000 * v / legs, 4) for name, v in cpu.items()},
    }
    console.print(f"{label}: {legs:,} legs in {seconds:.2f}s = [bold]{legs / seconds:,.0f} legs/s[/bold] "
                  f"({len(calls):,} calls; answers {out['answers']})")
    return out
