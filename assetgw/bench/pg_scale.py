"""Scale-out on PostgreSQL: bulk and order throughput with one and with two gateway instances
sharing one PostgreSQL store, each on a stack of its own (pgserver, embedded broker, simulators at
latency 0), measured with the bench's own ``run_bulk`` and ``phase_orders``. The officers' requests
go to the instances in turn (``RoundRobin``), as a load balancer in front of them would send them.

    python -m assetgw.bench.pg_scale --debtors 300 --orders 100 --gateways 1,2

writes ``pg_scale`` into the JSON results file (``--json``, default docs/bench-results.json is
left alone: bench-pg-scale.json) and prints a table. Run it at small sizes on a shared machine."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from assetgw.bench.bulk import bulk_debtors, run_bulk
from assetgw.bench.common import COURT, COURT_CODE, OFFICER, SEED, console, every_bank_takes_calls
from assetgw.bench.context import Ctx, Options
from assetgw.bench.orders import phase_orders
from assetgw.bench.stack import make_stack_class, server_cpu_seconds


class RoundRobin:
    """Requests to several gateway instances in turn, through the ``post``/``get`` the phases use."""

    def __init__(self, sessions: list[aiohttp.ClientSession]) -> None:
        self.sessions = sessions
        self._next = 0

    def _session(self) -> aiohttp.ClientSession:
        self._next = (self._next + 1) % len(self.sessions)
        return self.sessions[self._next]

    def post(self, *args: Any, **kwargs: Any) -> Any:
        return self._session().post(*args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._session().get(*args, **kwargs)


def postgres_cpu_seconds(stack: Any) -> float:
    """CPU seconds so far of the PostgreSQL server: its postmaster and every backend under it."""
    return server_cpu_seconds(stack.postgres.get_pid()) or 0.0


def _options(args: argparse.Namespace, data_dir: Path) -> Options:
    persons = max(3_000, args.debtors * 2)
    return Options(debtors=args.debtors, latency_samples=1, orders=args.orders, event_samples=1, memory_scale=0, raw_messages=1,
                   raw_trials=1, realistic_latency="0", skip=set(), json_path=Path(args.json), engine=args.engine,
                   partitions=args.partitions, smoke=False, data_dir=data_dir, keep_data=False, intake_rows=1,
                   persons=persons, companies=max(300, persons // 10))


async def measure(gateways: int, args: argparse.Namespace) -> dict[str, Any]:
    """One stack with ``gateways`` instances on PostgreSQL: a bulk inquiry, then freezes."""
    from schemas.directory import Directory
    from simulators.population import Population

    data_dir = Path(tempfile.mkdtemp(prefix=f"assetgw-pgscale-{gateways}-"))
    opts = _options(args, data_dir)
    population = await asyncio.to_thread(Population.generate, seed=SEED, persons=opts.persons, companies=opts.companies)
    prefix = f"pgscale{int(time.time())}{uuid.uuid4().hex[:4]}"
    env = {"ASSETGW_TOPIC_PREFIX": prefix, "ASSETGW_PARTITIONS": str(opts.partitions), "ASSETGW_INQUIRY_DEADLINE": "3600",
           "ASSETGW_RESEND_AFTER": "3600", "ASSETGW_RATE_LIMIT": "100000", "ASSETGW_RATE_BURST": "100000"}
    sim_args = ["--seed", str(SEED), "--persons", str(opts.persons), "--companies", str(opts.companies), "--latency", "0"]
    stack = make_stack_class()(data_dir, engine=opts.engine, ports="free", env=env, simulator_args=sim_args,
                               store="postgres", gateways=gateways)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        await stack.start(timeout=240)
        console.print(f"{gateways} gateway(s) on PostgreSQL: {' · '.join(stack.api_urls)}")
        credential = population.officer_credentials[0]
        token = stack.token(OFFICER, COURT, COURT_CODE, ["officer", "deduct", "ops"], credentials=[credential])
        headers = {"Authorization": f"Bearer {token}"}
        sessions = [aiohttp.ClientSession(url, headers=headers, timeout=aiohttp.ClientTimeout(total=600)) for url in stack.api_urls]
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as plain:
                ctx = Ctx(opts, stack, RoundRobin(sessions), plain, population, credential,  # type: ignore[arg-type]
                          len(Directory.from_env().queryable()), prefix, results, errors)
                # The server's backends come and go with connections: what it spent is read around each phase.
                pg0 = postgres_cpu_seconds(stack)
                results["bulk"] = await run_bulk(ctx, f"bulk ({gateways} gw)", bulk_debtors(ctx, opts.debtors), 1)
                pg1 = postgres_cpu_seconds(stack)
                await phase_orders(ctx)
                pg2 = postgres_cpu_seconds(stack)
                results["postgres_cpu_seconds"] = {"bulk": round(pg1 - pg0, 2), "orders_with_their_inquiry": round(pg2 - pg1, 2)}
        finally:
            for s in sessions:
                await s.close()
    finally:
        await stack.stop()
    bulk, orders = results["bulk"], results.get("orders", {})
    gateway_cpu = {k: v for k, v in bulk.get("cpu_seconds", {}).items() if k.startswith("gateway")}
    return {
        "gateways": gateways, "debtors": opts.debtors, "legs": bulk["legs"], "bulk_legs_per_s": bulk["legs_per_s"],
        "bulk_seconds": bulk["seconds"], "bulk_gateway_cpu_seconds": gateway_cpu,
        "bulk_gateway_cpu_ms_per_leg": round(1000 * sum(gateway_cpu.values()) / bulk["legs"], 3),
        "bulk_cpu_seconds": bulk.get("cpu_seconds", {}),
        "postgres_cpu_seconds": results.get("postgres_cpu_seconds"),
        "bulk_postgres_cpu_ms_per_leg": round(1000 * results.get("postgres_cpu_seconds", {}).get("bulk", 0) / bulk["legs"], 3),
        "orders": orders.get("answered"), "orders_per_s": orders.get("orders_per_s"),
        "order_latency_ms": orders.get("latency_ms"), "order_cpu_seconds": orders.get("cpu_seconds", {}),
        "errors": errors,
    }


async def main(args: argparse.Namespace) -> int:
    every_bank_takes_calls()
    runs = [await measure(int(n), args) for n in args.gateways.split(",")]
    document = {"pg_scale": {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
                             "load_average_before": os.getloadavg(), "runs": runs}}
    Path(args.json).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    console.rule("scale-out on PostgreSQL")
    for r in runs:
        latency = r["order_latency_ms"] or {}
        console.print(f"{r['gateways']} gateway(s): bulk {r['legs']:,} legs at {r['bulk_legs_per_s']:,.0f} legs/s "
                      f"(CPU per leg: gateways {r['bulk_gateway_cpu_ms_per_leg']} ms, PostgreSQL {r['bulk_postgres_cpu_ms_per_leg']} ms); "
                      f"{r['orders']} freezes at {r['orders_per_s']} orders/s, "
                      f"created→answered p99 {latency.get('p99')} ms" + (f"; errors {r['errors']}" if r["errors"] else ""))
    console.print(f"written to {args.json}")
    return 0 if not any(r["errors"] for r in runs) else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m assetgw.bench.pg_scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--debtors", type=int, default=300, help="debtors of the bulk inquiry (x 28 legs; default 300)")
    p.add_argument("--orders", type=int, default=100, help="freezes (default 100)")
    p.add_argument("--gateways", default="1,2", help="gateway instances per run, comma-separated (default 1,2)")
    p.add_argument("--engine", choices=("noida", "tansu"), default="noida")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--json", default="bench-pg-scale.json", help="where the figures go (default bench-pg-scale.json)")
    return p.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
