"""Phase 0, idle: what the stack costs doing nothing (issue 18's target: under 10% of one core).

Measured right after start-up, once every consumer has been without data long enough to pace its
empty fetches at the idle pace (infra/kafka/pacing.py), with the simulators' background activity
off, as the bench runs them."""

from __future__ import annotations

import asyncio

from assetgw.bench.common import console
from assetgw.bench.context import Ctx
from assetgw.bench.stack import Sampler

SETTLE_S = 5.0
MEASURE_S = 20.0


async def phase_idle(ctx: Ctx) -> None:
    settle, measure = (3.0, 3.0) if ctx.opts.smoke else (SETTLE_S, MEASURE_S)
    await asyncio.sleep(settle)  # a measuring window, not a wait for a condition: nothing is expected to happen
    with Sampler(ctx.stack.pids()) as sampler:
        await asyncio.sleep(measure)
    cpu = {name: v for name, v in sampler.report()["cpu_seconds"].items() if name != "bench"}
    share = sum(cpu.values()) / measure
    ctx.results["idle"] = {"seconds": measure, "cpu_seconds": cpu, "stack_share_of_one_core": round(share, 4),
                           "by_process_share_of_one_core": {name: round(v / measure, 4) for name, v in cpu.items()}}
    console.print(f"idle stack: {share:.1%} of one core over {measure:.0f} s "
                  f"({', '.join(f'{n} {v / measure:.1%}' for n, v in sorted(cpu.items(), key=lambda kv: -kv[1])[:4])} …)")
