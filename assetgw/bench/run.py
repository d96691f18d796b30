"""The orchestration: start the stack, run the phases in order, stop it, report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from assetgw.bench.bulk import phase_bulk, phase_scale_out
from assetgw.bench.common import COURT, COURT_CODE, OFFICER, SEED, console, every_bank_takes_calls
from assetgw.bench.context import Ctx, Options
from assetgw.bench.events import phase_events
from assetgw.bench.idle import phase_idle
from assetgw.bench.intake import phase_intake
from assetgw.bench.latency import phase_latency
from assetgw.bench.memory import phase_memory
from assetgw.bench.orders import phase_orders
from assetgw.bench.raw import phase_raw_ceiling
from assetgw.bench.report import print_results, results_document, write_results
from assetgw.bench.stack import make_stack_class
from schemas.directory import Directory

# The fund centres and the market regulator answer like government data platforms, slower than the
# banks' front ends (median:p99 ms); every other institution answers at once in the bench, so the
# bulk figures measure our own code, these two kinds' legs at their own pace beside them.
# The courts' case association service searches a court's whole case docket per party; the
# securities depository answers its account queries from a central registry, like the regulator.
KIND_LATENCY = {"fund": "20:80", "equity": "30:120", "court": "40:200", "securities": "30:150"}


async def run_bench(opts: Options) -> int:
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, main_task.cancel)  # type: ignore[union-attr]

    every_bank_takes_calls()
    from simulators.population import Population

    started_at = datetime.now(UTC)
    wall0 = time.monotonic()
    load_before = os.getloadavg()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or None
    temp = opts.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="assetgw-bench-")) if temp else opts.data_dir
    assert data_dir is not None
    prefix = f"bench{int(time.time())}{uuid.uuid4().hex[:4]}"
    deadline_s = 3600 * 6 if opts.memory_scale and "memory" not in opts.skip else 3600
    env = {
        "ASSETGW_TOPIC_PREFIX": prefix,
        "ASSETGW_PARTITIONS": str(opts.partitions),
        # Bulk legs may wait in the topic for minutes: neither the deadline nor the re-send of
        # unanswered work (for lost messages, not for a backlog) may fire during a run.
        "ASSETGW_INQUIRY_DEADLINE": str(deadline_s),
        "ASSETGW_RESEND_AFTER": str(deadline_s),
        "ASSETGW_RATE_LIMIT": "100000",
        "ASSETGW_RATE_BURST": "100000",
        "ASSETGW_TOPIC_RETENTION": str(opts.topic_retention_s),
    }
    sim_args = ["--seed", str(SEED), "--persons", str(opts.persons), "--companies", str(opts.companies), "--latency", "0",
                *(arg for i in Directory.from_env().institutions if i.kind in KIND_LATENCY
                  for arg in ("--institution-latency", f"{i.id}={KIND_LATENCY[i.kind]}"))]
    where = f"cluster {bootstrap}" if bootstrap else f"embedded {opts.engine} broker"
    console.rule("[bold]asset-gateway benchmark")
    console.print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {where}, {opts.store} store; data in {data_dir}; "
                  "every bank takes calls (none polls the file exchange)")
    if load_before[0] > 0.5 * (os.cpu_count() or 1):
        console.print(f"[yellow]the machine is already busy (load average {load_before[0]:.1f} on {os.cpu_count()} CPUs): "
                      "figures will be lower than on an idle machine")
    if opts.smoke:
        console.print("[yellow]--smoke: tiny sizes check the harness; the figures and verdicts are not representative")
    console.print(f"sizes: bulk {opts.debtors:,} debtors, {opts.latency_samples} latency samples per setting, {opts.orders:,} orders, "
                  f"intake {opts.intake_rows:,} rows, memory scale {opts.memory_scale or 'off'}, raw ceiling {opts.raw_messages:,} messages; "
                  f"population {opts.persons:,} people + {opts.companies:,} companies"
                  + (f"; skipping {', '.join(sorted(opts.skip))}" if opts.skip else ""))

    t = time.monotonic()
    population = await asyncio.to_thread(Population.generate, seed=SEED, persons=opts.persons, companies=opts.companies,
                                         directory=Directory.from_env())
    institutions = len(Directory.from_env().queryable())  # what every debtor of a bulk inquiry is asked of
    console.print(f"population generated in {time.monotonic() - t:.1f}s")

    BenchStack = make_stack_class()
    stack = BenchStack(data_dir, engine=opts.engine, kafka_bootstrap=bootstrap, ports="free", env=env, simulator_args=sim_args,
                       store=opts.store)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    ok = False
    try:
        t = time.monotonic()
        with console.status("starting the stack (broker, simulators, 4 connector workers, gateway) …"):
            await stack.start(timeout=180)
        console.print(f"stack up in {time.monotonic() - t:.1f}s: API {stack.api_url}, Kafka {stack.kafka_bootstrap}")
        credential = population.officer_credentials[0]  # what every bench body presents
        token = stack.token(OFFICER, COURT, COURT_CODE, ["officer", "deduct", "ops"], credentials=[credential])
        timeout = aiohttp.ClientTimeout(total=600)
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout, connector=connector) as http, \
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as plain:
            ctx = Ctx(opts, stack, http, plain, population, credential, institutions, prefix, results, errors)
            await _phases(ctx)
        ok = not errors
    except asyncio.CancelledError:
        errors["run"] = "cancelled"
        console.print("[yellow]cancelled; stopping the stack …")
    except Exception as exc:  # noqa: BLE001 - reported, the stack still stops
        errors["run"] = f"{type(exc).__name__}: {exc}"
        console.print_exception(max_frames=8)
    finally:
        with console.status("stopping the stack …"):
            try:
                await asyncio.shield(stack.stop())
            except Exception as exc:  # noqa: BLE001
                console.print(f"[red]stopping the stack failed: {exc!r}")
    document = results_document(opts, results, errors, started_at=started_at, wall0=wall0, load_before=load_before,
                                bootstrap=bootstrap, institutions=institutions, prefix=prefix, env=env, sim_args=sim_args)
    write_results(opts.json_path, document)
    print_results(document)
    console.print(f"results written to {opts.json_path}")
    if errors:
        console.print(f"[red]errors: {errors}")
        console.print(f"logs kept in {stack.logs}")
    elif temp and not opts.keep_data:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if ok else 1


async def _phases(ctx: Ctx) -> None:
    skip = ctx.opts.skip
    steps: list[tuple[str, Callable[[Ctx], Awaitable[None]]]] = []
    # Latency first, on a quiet broker: right after the raw ceiling's 3 × 140,000 messages,
    # noida-db spent 3.5× its CPU per inquiry (the whole stack 1.4×) and the one-debtor overhead p99
    # at latency 0 went from 33 to 60 ms.
    if "idle" not in skip:
        steps.append(("idle", phase_idle))
    if "latency" not in skip:
        steps.append(("latency", phase_latency))
    if "raw" not in skip:
        steps.append(("raw", phase_raw_ceiling))
    if "bulk" not in skip or "scaleout" not in skip:
        steps.append(("bulk", phase_bulk))
    if "orders" not in skip:
        steps.append(("orders", phase_orders))
    if "events" not in skip:
        steps.append(("events", phase_events))
    if "memory" not in skip:
        steps.append(("memory", phase_memory))
    if "scaleout" not in skip:
        steps.append(("scale_out", phase_scale_out))
    if "intake" not in skip:  # last: it leaves 2.8 million legs to the stack
        steps.append(("intake", phase_intake))
    for i, (name, step) in enumerate(steps, 1):
        console.rule(f"[{i}/{len(steps)}] {name.replace('_', ' ')}")
        t = time.monotonic()
        try:
            await step(ctx)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - one failed section does not lose the others
            ctx.errors[name] = f"{type(exc).__name__}: {exc}"
            console.print(f"[red]{name} failed: {exc!r}")
            console.print_exception(max_frames=6)
        console.print(f"[dim]{name}: {time.monotonic() - t:.1f}s")
