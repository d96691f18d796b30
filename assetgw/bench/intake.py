"""Phase 8, intake (issue 15): a batch at the documented limit, posted as a CSV and read back,
while another officer's requests keep coming.

A batch of ``--intake-rows`` rows (100,000 by default: cases of 10,000 debtors, every institution)
is posted to ``POST /v1/inquiry-batches`` and, once accepted, its reports are read back whole from
``GET /v1/inquiry-batches/{id}/reports``. Meanwhile a prober asks ``GET /healthz`` and posts a
one-debtor inquiry every 100 ms each, timing every answer; the gateway's RSS is sampled
throughout. Targets: /healthz p99 < 200 ms, gateway peak RSS < 300 MB."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp

from assetgw.bench.bulk import bulk_debtors
from assetgw.bench.common import AMOUNT_DUE_FEN, COURT, MB, console
from assetgw.bench.context import Ctx
from assetgw.bench.stack import Sampler
from assetgw.bench.stats import dist
from gateway.inquiries.bulk import to_csv

PROBE_EVERY_S = 0.1
INTAKE_CASE_SIZE = 10_000  # debtors per case: each case becomes 10 inquiries of 1,000
FIRST_CASE = 9801
# On a loaded machine the whole batch takes longer than the harness's usual 600 s per request.
LONG = aiohttp.ClientTimeout(total=None, sock_read=300)


class Prober:
    """One coroutine per kind of request, each asking every 100 ms (or as soon as its last answer
    came, if that took longer); latencies in ms with the phase they started in."""

    def __init__(self, ctx: Ctx, inquiry: dict[str, Any]) -> None:
        self.ctx, self.inquiry = ctx, inquiry
        self.phase = "before"
        self.samples: dict[str, list[tuple[str, float]]] = {"healthz": [], "inquiry": []}
        self.failures = 0

    async def loop(self, kind: str) -> None:
        while True:
            t0 = time.monotonic()
            phase = self.phase
            try:
                if kind == "healthz":
                    async with self.ctx.plain.get(f"{self.ctx.stack.api_url}/healthz") as r:
                        ok = r.status == 200
                else:
                    async with self.ctx.http.post("/v1/inquiries", json=self.inquiry) as r:
                        ok = r.status == 202
                        await r.read()
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            elapsed = time.monotonic() - t0
            if ok:
                self.samples[kind].append((phase, elapsed * 1000))
            else:
                self.failures += 1
            await asyncio.sleep(max(0.0, PROBE_EVERY_S - elapsed))

    def of(self, kind: str, phases: tuple[str, ...]) -> dict[str, float]:
        return dist([ms for phase, ms in self.samples[kind] if phase in phases])


async def phase_intake(ctx: Ctx) -> None:
    n = ctx.opts.intake_rows
    case_size = min(INTAKE_CASE_SIZE, n)
    debtors = bulk_debtors(ctx, case_size)
    rows = []
    for i in range(n):
        case = ctx.case(FIRST_CASE + i // case_size)
        d = debtors[i % case_size]
        rows.append({"case_number": case, "court": COURT, "amount_due_fen": AMOUNT_DUE_FEN, "costs_fen": 500_000,
                     "notice_number": f"{case}-查", "officer_credentials": [ctx.credential], "debtor_kind": d.kind,
                     "id_number": d.id_number, "name": d.name})
    body = (await asyncio.to_thread(to_csv, rows)).encode()
    del rows
    probe_case = ctx.case(FIRST_CASE - 1)
    probe = {"case_number": probe_case, "court": COURT, "amount_due_fen": AMOUNT_DUE_FEN, "costs_fen": 500_000,
             "notice_number": f"{probe_case}-查", "officer_credentials": [ctx.credential], "institutions": ["vehicle"],
             "debtors": [{"kind": debtors[0].kind, "id_number": debtors[0].id_number, "name": debtors[0].name}]}
    console.print(f"posting a {n:,}-row CSV batch ({len(body) / MB:.1f} MiB) and reading its reports back, "
                  f"probing /healthz and a one-debtor inquiry every {PROBE_EVERY_S * 1000:.0f} ms …")
    prober = Prober(ctx, probe)
    tasks = [asyncio.create_task(prober.loop(kind)) for kind in ("healthz", "inquiry")]
    pid = ctx.stack.pids()["gateway"]
    try:
        await asyncio.sleep(1.0)  # a baseline
        with Sampler({"gateway": pid}) as sampler:
            prober.phase = "ingest"
            t0 = time.monotonic()
            async with ctx.http.post("/v1/inquiry-batches", data=body, headers={"Content-Type": "text/csv"}, timeout=LONG) as r:
                accepted = await r.json(content_type=None)
                if r.status != 202:
                    raise RuntimeError(f"batch refused ({r.status}): {accepted}")
            ingest_s = time.monotonic() - t0
            del body
            prober.phase = "read"
            t1 = time.monotonic()
            reports = size = 0
            async with ctx.http.get(f"{accepted['location']}/reports", timeout=LONG) as r:
                async for line in r.content:
                    reports += line.strip() != b""
                    size += len(line)
            read_s = time.monotonic() - t1
            prober.phase = "after"
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    during = ("ingest", "read")
    out = {
        "rows": n, "debtors": accepted["debtors"], "inquiries": accepted["inquiries"], "legs": accepted["legs"],
        "ingest_s": round(ingest_s, 1), "rows_per_s": round(n / ingest_s), "read_back_s": round(read_s, 1),
        "reports": reports, "reports_mb": round(size / MB, 1),
        "healthz_ms": prober.of("healthz", during), "inquiry_ms": prober.of("inquiry", during),
        "healthz_ms_ingest": prober.of("healthz", ("ingest",)), "healthz_ms_read": prober.of("healthz", ("read",)),
        "inquiry_ms_ingest": prober.of("inquiry", ("ingest",)), "inquiry_ms_read": prober.of("inquiry", ("read",)),
        "healthz_ms_before": prober.of("healthz", ("before",)), "probe_failures": prober.failures,
        "gateway_peak_rss_mb": sampler.report()["peak_rss_mb"]["gateway"],
        "gateway_rss_at_start_mb": sampler.report()["rss_at_start_mb"]["gateway"],
    }
    ctx.results["intake"] = out
    console.print(f"{n:,} rows accepted in {ingest_s:.1f} s ({out['inquiries']} inquiries, {out['legs']:,} legs); "
                  f"{reports:,} reports ({out['reports_mb']} MiB) read back in {read_s:.1f} s")
    console.print(f"meanwhile /healthz p50 {out['healthz_ms'].get('p50')} / p99 {out['healthz_ms'].get('p99')} ms, one-debtor "
                  f"inquiry p50 {out['inquiry_ms'].get('p50')} / p99 {out['inquiry_ms'].get('p99')} ms; gateway peak RSS "
                  f"{out['gateway_peak_rss_mb']} MB")
