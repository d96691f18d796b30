"""Does the broker's cost grow with what it holds? Rounds of: poll at the end of the log for a few
seconds (the broker's CPU for a fixed rate of empty fetches), produce 100,000 messages of 1 KB,
read them back with four consumer groups; the broker's CPU and RSS after each. With
``--retention S`` the topic keeps messages S seconds (``ASSETGW_TOPIC_RETENTION``), and each round
first waits that long.

    python -m assetgw.bench.broker_growth --rounds 5 [--retention 5] [--engine noida] [--json F]

Measured on noida-db (2026-12-02, 2 cores): without retention the broker's CPU for the empty
fetches rose from 0.26 to 1.00 of a core over five rounds, for a round's reads from 3.5 to 7.1 s,
and its RSS to 2.7 GB; with a 5 s retention they stayed at 0.20-0.33, 3.0-3.8 s and 0.3-0.8 GB
(docs/benchmark.md, docs/bench-results-2026-12-02-growth.json)."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from assetgw.bench.stack import proc_status, server_cpu_seconds
from assetgw.stack.supervisor import free_port
from infra.kafka.broker import ENGINES, EmbeddedBroker
from infra.kafka.topics import topic_configs

TOPIC, PARTITIONS, GROUPS, MESSAGES, SIZE = "growth.results", 4, 4, 100_000, 1000


async def poll_at_end(consumers: list[AIOKafkaConsumer], pid: int, seconds: float) -> dict[str, float]:
    cpu0, loops, t0 = server_cpu_seconds(pid) or 0.0, 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        for consumer in consumers:
            await consumer.getmany(timeout_ms=0)
            loops += 1
        await asyncio.sleep(0.005)
    return {"broker_cores": round(((server_cpu_seconds(pid) or 0.0) - cpu0) / seconds, 3), "fetch_loops_per_s": round(loops / seconds)}


async def measure(engine: str, rounds: int, retention_s: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="broker-growth-") as data:
        broker = EmbeddedBroker(engine, port=free_port(), data_dir=Path(data))
        broker.start()
        assert broker.process is not None
        pid, bootstrap = broker.process.pid, broker.bootstrap
        try:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1, topic_configs=topic_configs(TOPIC, "growth", retention_s))])
            finally:
                await admin.close()
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=256 * 1024)
            consumers = [AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id=f"growth{g}", auto_offset_reset="latest",
                                          enable_auto_commit=False, fetch_max_wait_ms=50) for g in range(GROUPS)]
            await producer.start()
            for consumer in consumers:
                await consumer.start()
            try:
                while not all(c.assignment() for c in consumers):  # noqa: ASYNC110 - the group's join has no event to wait on
                    await asyncio.sleep(0.1)
                out = []
                for r in range(rounds):
                    await asyncio.sleep(retention_s)  # what the last round wrote may expire
                    idle = await poll_at_end(consumers, pid, 8.0)
                    cpu0, t0 = server_cpu_seconds(pid) or 0.0, time.monotonic()
                    for start in range(0, MESSAGES, 5000):
                        await asyncio.gather(*[await producer.send(TOPIC, b"x" * SIZE, key=str(i).encode()) for i in range(start, start + 5000)])
                    produced_s, produce_cpu = time.monotonic() - t0, (server_cpu_seconds(pid) or 0.0) - cpu0
                    cpu0, t0, got = server_cpu_seconds(pid) or 0.0, time.monotonic(), 0
                    while got < MESSAGES * GROUPS:
                        for consumer in consumers:
                            got += sum(len(records) for records in (await consumer.getmany(timeout_ms=100, max_records=5000)).values())
                    row = {"round": r + 1, "idle_fetch": idle, "produce_s": round(produced_s, 2), "produce_broker_cpu_s": round(produce_cpu, 2),
                           "consume_s": round(time.monotonic() - t0, 2),
                           "consume_broker_cpu_s": round((server_cpu_seconds(pid) or 0.0) - cpu0, 2),
                           "broker_rss_mb": round(proc_status(pid).get("VmRSS", 0) / 2**20)}
                    print(orjson.dumps(row).decode(), flush=True)
                    out.append(row)
                return out
            finally:
                for consumer in consumers:
                    await consumer.stop()
                await producer.stop()
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m assetgw.bench.broker_growth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--retention", type=int, default=0, help="seconds the topic keeps messages (0: the broker's default)")
    parser.add_argument("--engine", choices=ENGINES, default="noida")
    parser.add_argument("--json", type=Path, help="append the rounds to this JSON file under broker_growth")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.engine, args.rounds, args.retention))
    if args.json:
        existing = orjson.loads(args.json.read_bytes()) if args.json.exists() else {}
        existing.setdefault("broker_growth", {})[f"{args.engine}, retention {args.retention or 'broker default'}"] = rows
        args.json.write_bytes(orjson.dumps(existing, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
