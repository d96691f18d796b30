"""The gateway process: HTTP API, outbox relay, result consumer and deadline sweeper, with a
graceful stop: stop taking requests, stop the loops, commit, close."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterable
from dataclasses import replace
from typing import Any

import structlog
from aiohttp import web

from gateway.events.consumer import EventConsumer
from gateway.events.reconcile import Reconciler
from gateway.http.access import rate_limiter
from gateway.http.app import create_app
from gateway.http.auth import TokenAuthority, load_token_secret
from gateway.http.keys import KAFKA_HEALTH
from gateway.inquiries.completions import Completions
from gateway.inquiries.intake import Intake
from gateway.messaging.housekeeping import housekeeping
from gateway.messaging.outbox import LegOutbox, OrderOutbox, Relay
from gateway.messaging.results import ResultConsumer
from gateway.messaging.standins import StandIns
from gateway.orders.desk import OrderDesk
from gateway.store.factory import open_store, store_location
from gateway.store.thread import StoreThread
from gateway.watches.wiring import Watches
from infra import heap
from infra.kafka.clients import make_consumer, make_producer, start_with_retry
from infra.kafka.health import KafkaHealth
from infra.kafka.topics import ensure_topics
from infra.settings import Settings
from schemas.courts import Courts

log = structlog.get_logger("gateway")

SHARED_OUTBOX_POLL_S = 1.0


async def run_gateway(settings: Settings, stop: asyncio.Event) -> None:
    store = open_store(store_location(settings))
    # The bulk writes (outbox, results, a batch's parts) on a thread and a connection of their own.
    thread = StoreThread(open_store(store_location(settings)))
    peers = store.peers  # other gateways on the same store (PostgreSQL), or none
    peers.beat(settings.instance)  # back before our consumers take our places from a stand-in (messaging/standins.py)
    await ensure_topics(settings.kafka_bootstrap, settings.topic_prefix, settings.partitions, settings.topic_retention_s)
    producer = make_producer(settings, "gateway")
    group_id = f"{settings.topic_prefix}.gateway"
    await start_with_retry(producer)
    relay = Relay(producer, [LegOutbox(thread.store.legs, settings.topic_prefix, settings.legs_per_message),
                             OrderOutbox(thread.store.orders, settings.topic_prefix)], thread)
    completions = Completions()

    def touched(inquiry_ids: Iterable[str]) -> None:
        """Wakes ``?wait`` long-polls on the inquiries here and, through the store, on every other gateway."""
        inquiry_ids = list(inquiry_ids)
        completions.touched(inquiry_ids)
        peers.announce("inquiries", inquiry_ids)

    reconciler = Reconciler(store.events, store.reconciliations, settings.directory, producer, settings.topic_prefix)
    intake = Intake(store.inquiries, store.cases, settings.directory, settings.inquiry_deadline_s, relay.wake, thread)
    courts = Courts.from_env()
    desk = OrderDesk(store, settings.directory, courts, settings.order_deadline_s, relay.wake, settings.living_allowance_fen)
    # Watches and alerts: ``watches.listener`` turns the new institution events into alerts.
    watches = Watches(store, desk, settings.directory)

    async def consume_as(instance: str, stop: asyncio.Event) -> None:
        """The results and the institutions' events (in a group of their own: a flood of events never
        holds back results), consumed as static group member ``instance``: this gateway, or a dead
        peer it stands in for (gateway/messaging/standins.py). The consumers are started and stopped
        by their subscribers."""
        as_member = replace(settings, instance=instance)
        results = ResultConsumer(thread, make_consumer(as_member, group_id=group_id, client_id="gateway"), producer,
                                 settings.topic_prefix, group_id, touched, reconciler.on_reports)
        events = EventConsumer(store.events, settings.directory,
                               make_consumer(as_member, group_id=f"{group_id}.events", client_id="gateway-events"),
                               producer, settings.topic_prefix, f"{group_id}.events", listeners=[watches.listener, watches.refused_purchases])
        await first_to_end(results.run(stop), events.run(stop), stop=stop)

    standins = StandIns(peers, settings.instance, consume_as)
    authority = TokenAuthority(load_token_secret())
    limiter = rate_limiter(peers.rate_buckets, "officer:", settings.rate_limit_per_s, settings.rate_limit_burst)
    anonymous = rate_limiter(peers.rate_buckets, "client:", settings.anon_rate_limit_per_s, settings.anon_rate_limit_burst)
    app = create_app(store, intake, desk, settings.directory, courts, authority, limiter, completions, reconciler, watches,
                     anonymous, settings.body_timeout_s, settings.console_demo)
    app[KAFKA_HEALTH] = kafka = KafkaHealth(settings.kafka_bootstrap)  # /healthz: 503 while Kafka is out of reach
    await kafka.probe()
    # aiohttp closes a connection whose request head has not fully arrived (or that sits idle)
    # keepalive_timeout after it opened or was last answered: our header read timeout.
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=settings.header_timeout_s)
    await runner.setup()
    await web.TCPSite(runner, settings.api_host, settings.api_port).start()
    log.info("gateway listening", url=settings.api_url, kafka=settings.kafka_bootstrap)
    heap.settle()
    # Batches are planned and reports built in worker threads (CPU-bound Python): after each I/O
    # the event loop waits up to one switch interval for the GIL, so 1 ms instead of 5 keeps an
    # answer to /healthz from paying 5 ms several times over while a batch is being read.
    sys.setswitchinterval(0.001)
    consuming = [asyncio.create_task(consume_as(settings.instance, stop), name="consuming"),
                 asyncio.create_task(standins.run(stop), name="stand-ins")]
    loops = [asyncio.create_task(c, name=n) for n, c in (
        ("relay", relay.run()), ("kafka-health", kafka.run(stop)),
        ("housekeeping", housekeeping(store.legs, store.orders, settings.resend_after_s, relay.wake, touched,
                                     leads=lambda: peers.leads("housekeeping"))),
        # Other gateways' results wake this one's long-polls.
        ("peer-inquiries", peers.listen("inquiries", completions.touched, stop)),
    )]
    if settings.store == "postgres":
        # Work another gateway took and died holding (its claim's lease ran out), or work stored
        # through another gateway while this one's relay slept: looked for every second.
        loops.append(asyncio.create_task(relay.poll(SHARED_OUTBOX_POLL_S), name="relay-poll"))
    if settings.reconcile_every_s:
        loops.append(asyncio.create_task(
            reconciler.every(settings.reconcile_every_s, stop, leads=lambda: peers.leads("reconcile")), name="reconcile"))
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([stopper, *consuming, *loops], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception():
                raise task.exception()  # type: ignore[misc]
    finally:
        await runner.cleanup()  # no new requests
        stop.set()
        # The consuming loops end between batches: what they fetched is applied and committed, then they leave their groups.
        _, stuck = await asyncio.wait(consuming, timeout=15)
        for task in [stopper, *stuck, *loops]:
            task.cancel()
        await asyncio.gather(stopper, *consuming, *loops, return_exceptions=True)
        try:  # bounded: the broker may be gone
            await asyncio.wait_for(producer.stop(), timeout=10)
        except Exception as exc:  # noqa: BLE001 - leaving anyway
            log.warning("shutdown step gave up", error=repr(exc))
        thread.close()
        store.close()
        log.info("gateway stopped")


async def first_to_end(*loops: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Runs ``loops`` together; when one ends (failed), ``stop`` the others and re-raise."""
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if task.exception():
            raise task.exception()  # type: ignore[misc]
