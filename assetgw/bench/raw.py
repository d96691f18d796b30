"""Phase 1, the raw ceiling: plain aiokafka produce-then-consume of leg-sized messages."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assetgw.bench.common import AMOUNT_DUE_FEN, COURT, MB, console
from assetgw.bench.context import Ctx
from assetgw.bench.stats import percentile


def sample_leg_message(ctx: Ctx) -> bytes:
    """A real inquiry leg as the gateway's outbox encodes it (envelope and all): a ``LegBatch``
    holding exactly one leg, so the ceiling is per message of one leg's size."""
    from infra.clock import ms_to_dt, now_ms
    from schemas.messages import LegBatch, LegItem, encode, new_id

    d = ctx.population.debtors[0]
    inquiry_id = new_id()
    case = ctx.case(4502)
    batch = LegBatch(
        inquiry_id=inquiry_id, batch_id=new_id(), case_number=case, court=COURT,
        notice_number=f"{case}-查", officer_credentials=[ctx.credential], amount_due_fen=AMOUNT_DUE_FEN, costs_fen=500_000,
        institution_kind="bank", deadline=ms_to_dt(now_ms() + 3_600_000),
        legs=[LegItem(leg_id=f"{inquiry_id}.0.bank-01", institution_id="bank-01", debtor=d.as_debtor())],
    )
    return encode(batch, inquiry_id=batch.inquiry_id, batch_id=batch.batch_id)


async def raw_trial(bootstrap: str, admin: Any, topic: str, partitions: int, replication: int, n: int, value: bytes,
                    keys: list[bytes], idempotence: bool, label: str) -> dict[str, float]:
    """One produce-then-consume round trip of ``n`` messages through a fresh topic."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import NewTopic

    await admin.create_topics([NewTopic(topic, partitions, replication)])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                                client_id="bench-raw-consumer")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="bench-raw-producer", acks="all",
                                enable_idempotence=idempotence, linger_ms=5, max_batch_size=256 * 1024, request_timeout_ms=30000)
    await consumer.start()
    await producer.start()
    try:
        for _ in range(100):  # the new topic's metadata may take a moment to appear
            if await producer.partitions_for(topic):
                break
            await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        received = 0
        last = 0.0

        async def consume() -> None:
            nonlocal received, last
            while received < n:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    received += len(records)
                if batches:
                    last = time.perf_counter()

        with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task(label, total=n)
            consuming = asyncio.create_task(consume())
            t0 = time.perf_counter()
            futures = []
            for i in range(n):
                futures.append(await producer.send(topic, value, key=keys[i % len(keys)]))
                if i % 5000 == 0:
                    bar.update(task, completed=received)
            await asyncio.gather(*futures)
            acked = time.perf_counter()
            while not consuming.done():
                bar.update(task, completed=received)
                await asyncio.wait([consuming], timeout=0.2)
                if not consuming.done() and time.perf_counter() - acked > 120:
                    consuming.cancel()
                    raise RuntimeError(f"consumed only {received} of {n} messages within 120 s of the last ack")
            await consuming
    finally:
        await producer.stop()
        await consumer.stop()
        with contextlib.suppress(Exception):
            await admin.delete_topics([topic])
    seconds = last - t0
    return {"seconds": round(seconds, 3), "msgs_per_s": round(n / seconds, 1), "all_acked_after_s": round(acked - t0, 3)}


async def phase_raw_ceiling(ctx: Ctx) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.consumer.fetcher import Fetcher

    bootstrap, n, partitions = ctx.stack.kafka_bootstrap, ctx.opts.raw_messages, ctx.opts.partitions
    value = sample_leg_message(ctx)
    keys = [d.id_number.encode() for d in ctx.population.debtors[:1000]]
    idempotence = ctx.stack.env.get("ASSETGW_KAFKA_IDEMPOTENCE", "1").lower() in ("1", "true", "yes", "on")
    # Stack's constructor imports the connector worker, which installs the project's fetch pacing
    # into aiokafka in this process too; the ceiling is measured with aiokafka's own fetcher.
    pacing = sys.modules.get("infra.kafka.pacing")
    original = getattr(pacing, "_original", None)
    installed = Fetcher._proc_fetch_request  # noqa: SLF001 - the pacing hook (infra/kafka/pacing.py)
    if original is not None:
        Fetcher._proc_fetch_request = original  # type: ignore[method-assign]  # noqa: SLF001 - the pacing hook
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    trials = []
    try:
        brokers = len((await admin.describe_cluster()).get("brokers", [])) or 1
        replication = min(3, brokers)
        args = (bootstrap, admin)
        # A short warm-up (connections, the broker's first segments), then the timed trials, each
        # on a fresh topic; the ceiling is the best trial (others on the machine only slow it down).
        await raw_trial(*args, f"{ctx.prefix}.bench.raw.warmup", partitions, replication, min(2_000, n), value, keys, idempotence, "raw warm-up")
        for i in range(ctx.opts.raw_trials):
            topic = f"{ctx.prefix}.bench.raw.{i + 1}.{uuid.uuid4().hex[:6]}"
            trial = await raw_trial(*args, topic, partitions, replication, n, value, keys, idempotence, f"raw trial {i + 1}")
            trials.append(trial)
            console.print(f"  trial {i + 1}: {n:,} messages in {trial['seconds']:.2f}s = {trial['msgs_per_s']:,.0f} msg/s "
                          f"(all acked after {trial['all_acked_after_s']:.2f}s)")
    finally:
        await admin.close()
        Fetcher._proc_fetch_request = installed  # type: ignore[method-assign]  # noqa: SLF001 - the pacing hook
    best = max(trials, key=lambda t: t["msgs_per_s"])
    rate = best["msgs_per_s"]
    ctx.results["raw_ceiling"] = {
        "messages": n, "message_bytes": len(value), "partitions": partitions, "replication": replication, "acks": "all",
        "idempotence": idempotence, "linger_ms": 5, "max_batch_size": 256 * 1024, "compression": None, "keys": "debtor id numbers",
        "msgs_per_s": rate, "seconds": best["seconds"], "mb_per_s": round(n * len(value) / MB / best["seconds"], 2),
        "trials": trials, "median_trial_msgs_per_s": round(percentile([t["msgs_per_s"] for t in trials], 50), 1),
        "method": "fresh topic per trial; first send to last message consumed; the ceiling is the best trial",
        "client": "plain aiokafka (its own fetcher, no project code), one producer and one consumer in the bench process",
    }
    console.print(f"raw ceiling: {n:,} × {len(value)} B = [bold]{rate:,.0f} msg/s[/bold] (best of {len(trials)})")
