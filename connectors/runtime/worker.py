"""A connector worker: consumes one institution kind's batches of inquiry legs and its control
orders, calls the institutions, and publishes exactly one result per leg or order.

A message carries one inquiry's legs for institutions of one kind. They are asked of their
institutions, per institution in chunks of at most the connector's ``max_batch``, all
concurrently, and the answers go back as they come: a slow institution holds back only its own
legs. Messages are handled concurrently too (capped in total, and calls per institution). A
message's offset is committed once all its results are acknowledged by the broker; a crash
redelivers unfinished messages, and the gateway ignores a second result for a finished leg.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from typing import AsyncIterator, Awaitable, Callable, TypeVar

import aiohttp
import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from connectors.runtime.breaker import OPEN, CircuitBreaker
from connectors.contract.base import Answer, Connector, Found, NotFound, Permanent, Retryable
from infra.kafka.deadletter import send_to_deadletter
from infra.kafka.clients import make_consumer, make_producer, start_with_retry
from infra.kafka.offsets import OffsetTracker
from infra import metrics
from infra.kafka.topics import deadletter_topic, legs_topic, order_results_topic, orders_topic, results_topic
from infra.settings import Settings
from schemas.directory import Institution
from schemas.messages import LegBatch, LegBatchResult, LegItem, LegResult, UndecodableMessage, decode, encode, utcnow
from schemas.orders import OrderRequest, OrderResult

log = structlog.get_logger("connector")
T = TypeVar("T")

COMMIT_INTERVAL_S = 0.2


def _backoff_s(failures: int, exc: BaseException | None) -> float:
    """Jittered exponential backoff after ``failures`` failed attempts (up to 50 ms, 100 ms, …,
    2 s), but never sooner than the institution's Retry-After."""
    delay = random.uniform(0, min(2.0, 0.05 * 2 ** (failures - 1)))
    if isinstance(exc, Retryable) and exc.retry_after is not None:
        delay = max(delay, exc.retry_after)
    return delay


class ConnectorWorker:
    def __init__(self, kind: str, connector: Connector, settings: Settings, *, name: str | None = None) -> None:
        self.kind = kind
        self.connector = connector
        self.settings = settings
        self.name = name or f"connector-{kind}"
        self.group_id = f"{settings.topic_prefix}.connector.{kind}"
        self.tracker = OffsetTracker()
        self._limits: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.max_inflight_per_institution)
        )
        self._breakers: dict[str, CircuitBreaker] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._publishing: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._legs_in_flight = 0
        self.producer = make_producer(settings, self.name)
        self.consumer = make_consumer(settings, group_id=self.group_id, client_id=self.name)

    async def run(self, stop: asyncio.Event, grace_s: float = 20.0) -> None:
        await start_with_retry(self.producer)
        prefix = self.settings.topic_prefix
        self.consumer.subscribe([legs_topic(prefix, self.kind), orders_topic(prefix, self.kind)], listener=_Rebalance(self))
        await start_with_retry(self.consumer)
        log.info("worker started", kind=self.kind, group=self.group_id)
        try:
            last_commit = time.monotonic()
            while not stop.is_set():
                await self._fetch_some()
                if time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                    await self._commit()
                    last_commit = time.monotonic()
        finally:
            await self._shutdown(grace_s)

    async def _fetch_some(self) -> None:
        room = self.settings.max_inflight - len(self._tasks)
        if room <= 0 or self._legs_in_flight >= self.settings.max_inflight_legs:
            # Back-pressure: fetch no more until something finishes.
            await asyncio.wait(self._tasks, timeout=0.1, return_when=asyncio.FIRST_COMPLETED)
            return
        batches = await self.consumer.getmany(timeout_ms=100, max_records=room)
        for tp, records in batches.items():
            for record in records:
                self.tracker.started(tp, record.offset)
                task = asyncio.create_task(self._handle(tp, record))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _handle(self, tp: TopicPartition, record: ConsumerRecord) -> None:
        try:
            _, work = decode(record.value)
            if not isinstance(work, (LegBatch, OrderRequest)):
                raise UndecodableMessage(f"expected legs or an order, got {type(work).__name__}")
            named = {leg.institution_id for leg in work.legs} if isinstance(work, LegBatch) else {work.institution_id}
            institutions = {i: self.settings.directory.by_id.get(i) for i in sorted(named)}
            for institution_id, institution in institutions.items():
                if institution is None or institution.kind != self.kind:
                    # A configuration gap, not a bad message: mend the directory, then re-drive it.
                    raise UndecodableMessage(f"institution {institution_id!r} is not a {self.kind} in this worker's directory")
        except UndecodableMessage as exc:
            await self._dead_letter(tp, record, str(exc))
            return
        ids = ({"inquiry_id": work.inquiry_id, "batch_id": work.batch_id}
               if isinstance(work, LegBatch) else {"order_id": work.order_id, "case_number": work.case_number})
        with structlog.contextvars.bound_contextvars(institution=",".join(named), **ids):
            if isinstance(work, LegBatch):
                self._legs_in_flight += len(work.legs)
                try:
                    await self._answer_legs(tp, record, work)
                finally:
                    self._legs_in_flight -= len(work.legs)
            else:
                order_result = await self.control(work, institutions[work.institution_id])
                value = encode(order_result, order_id=work.order_id)
                topic, key = order_results_topic(self.settings.topic_prefix), work.order_id.encode()
                await self._publish_and_finish(tp, record, lambda: self.producer.send_and_wait(topic, value, key=key))

    async def _answer_legs(self, tp: TopicPartition, record: ConsumerRecord, batch: LegBatch) -> None:
        """Sends each part of the answer as it comes, without waiting for the broker in between
        (the last part must not queue behind an earlier one's acknowledgement); the offset is
        finished once every part is acknowledged."""
        topic, key = results_topic(self.settings.topic_prefix), batch.inquiry_id.encode()
        values: list[bytes] = []
        acks: list[asyncio.Future[object] | None] = []
        async with contextlib.aclosing(self.answers(batch)) as parts:
            async for part, _ in parts:
                values.append(encode(part, inquiry_id=batch.inquiry_id, batch_id=batch.batch_id))
                try:
                    acks.append(await self.producer.send(topic, values[-1], key=key))
                except KafkaError:
                    acks.append(None)  # sent again below

        confirmed = 0  # parts acknowledged, in order

        async def confirm_all() -> None:
            nonlocal confirmed
            for i in range(confirmed, len(values)):
                ack, acks[i] = acks[i], None  # should this try fail, the next one sends the part again
                if ack is None:
                    await self.producer.send_and_wait(topic, values[i], key=key)
                else:
                    try:
                        await ack
                    except KafkaError:  # again, at once; the gateway ignores a repeat of a part that did land
                        await self.producer.send_and_wait(topic, values[i], key=key)
                confirmed = i + 1

        await self._publish_and_finish(tp, record, confirm_all)

    async def _publish_and_finish(self, tp: TopicPartition, record: ConsumerRecord, send) -> None:  # type: ignore[no-untyped-def]
        """From here on the task is not cancelled at shutdown: a result that reached the broker
        must have its offset marked finished, or a restart would process the message again."""
        task = asyncio.current_task()
        self._publishing.add(task)  # type: ignore[arg-type]
        try:
            if await self._publish(send):
                self.tracker.finished(tp, record.offset)
        finally:
            self._publishing.discard(task)  # type: ignore[arg-type]

    async def _dead_letter(self, tp: TopicPartition, record: ConsumerRecord, reason: str) -> None:
        log.warning("dead-lettering", reason=reason, topic=record.topic, partition=record.partition, offset=record.offset)
        metrics.DEAD_LETTERS.labels(self.group_id, record.topic).inc()
        attempts = 1 + int(dict(record.headers or ()).get("dlq.attempts", b"0"))
        await self._publish_and_finish(tp, record, lambda: send_to_deadletter(
            self.producer, deadletter_topic(self.settings.topic_prefix), record, reason, self.group_id, attempts
        ))

    async def _publish(self, send) -> bool:  # type: ignore[no-untyped-def]
        """Keep trying through broker hiccups; on shutdown leave the offset uncommitted instead."""
        delay = 0.1
        while True:
            try:
                await send()
                return True
            except KafkaError as exc:
                if self._stopping:
                    return False
                log.warning("publish failed, retrying", error=repr(exc))
                await self.producer.recover(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def answers(self, batch: LegBatch) -> AsyncIterator[tuple[LegBatchResult, bool]]:
        """Ask each institution for its legs, a chunk of at most ``max_batch`` legs per call, all
        chunks concurrently, and yield ``(results, last)`` as they come: what finishes within
        ``result_linger_s`` of an answer goes out with it, and the last answer goes out at once, so
        a slow institution holds back only its own legs. One terminal result per leg in all,
        never raises. The institutions must be in this worker's directory (``_handle``
        checks)."""
        remaining = (batch.deadline - utcnow()).total_seconds()
        if remaining <= 0:
            yield self._batch_result(batch, [_result(leg, "timed_out", "the leg's deadline had passed before it reached the connector")
                                             for leg in batch.legs]), True
            return
        by_institution: dict[str, list[LegItem]] = defaultdict(list)
        for leg in batch.legs:
            by_institution[leg.institution_id].append(leg)
        size = max(1, self.connector.max_batch)
        order: dict[asyncio.Task[list[LegResult]], int] = {}
        for institution_id, legs in by_institution.items():
            institution = self.settings.directory.by_id[institution_id]
            for i in range(0, len(legs), size):
                order[asyncio.create_task(self._call_chunk(batch.part(legs[i:i + size]), institution, remaining))] = len(order)
        pending = set(order)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if pending and self.settings.result_linger_s > 0:  # more answers may follow soon: take them along
                    more, pending = await asyncio.wait(pending, timeout=self.settings.result_linger_s)
                    done |= more
                yield self._batch_result(batch, [r for t in sorted(done, key=order.__getitem__) for r in t.result()]), not pending
        finally:
            for task in pending:  # the message was abandoned (shutdown): stop asking
                task.cancel()

    def _batch_result(self, batch: LegBatch, results: list[LegResult]) -> LegBatchResult:
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for r in results:
            counts[(r.institution_id, r.status)] += 1
        for (institution_id, status), n in counts.items():
            metrics.LEGS.labels(institution_id, status).inc(n)
        return LegBatchResult(inquiry_id=batch.inquiry_id, results=results, answered_at=utcnow())

    async def _call_chunk(self, chunk: LegBatch, institution: Institution, remaining: float) -> list[LegResult]:
        started = time.monotonic()
        attempts = [0]
        answers: dict[str, Answer] = {}

        async def ask_the_rest() -> None:
            # A retry asks again only for the legs the institution has not answered yet.
            rest = [leg for leg in chunk.legs if leg.leg_id not in answers]
            got = await self.connector.query(institution, chunk.part(rest))
            answers.update((leg.leg_id, got[leg.leg_id]) for leg in rest if leg.leg_id in got)
            missing = len(rest) - sum(1 for leg in rest if leg.leg_id in got)
            if missing:
                raise Retryable(f"{institution.id} left {missing} of {len(rest)} legs out of its answer")

        failure: tuple[str, str] | None = None
        try:
            async with asyncio.timeout(remaining):
                async with self._limits[institution.id]:
                    with _in_flight(institution.id):
                        await self._with_retries(institution, ask_the_rest, attempts)
        except TimeoutError:
            failure = ("timed_out", f"no answer from {institution.id} before the leg deadline")
        except Permanent as exc:
            failure = ("failed", str(exc))
        except Retryable as exc:
            failure = ("failed", f"gave up after {attempts[0]} attempts: {exc}")
        except Exception as exc:  # noqa: BLE001 - a connector bug must still end the legs
            log.exception("connector error", institution=institution.id)
            failure = ("failed", f"connector error: {exc!r}"[:500])
        _observe(institution.id, "query", started, attempts[0])
        out = []
        for leg in chunk.legs:
            answer = answers.get(leg.leg_id)
            if answer is None:  # the institution never answered for this leg
                status, reason = failure or ("failed", f"{institution.id} gave no answer for the leg")
                out.append(_result(leg, status, reason, attempts[0], started))
            elif isinstance(answer, Found):
                out.append(_result(leg, "found", None, attempts[0], started, answer))
            else:
                out.append(_result(leg, "not_found" if isinstance(answer, NotFound) else "refused", answer.reason,
                                   attempts[0], started))
        return out

    async def control(self, order: OrderRequest, institution: Institution) -> OrderResult:
        """Send a control order; always returns a result, never raises. The institution dedupes on
        the order id, so retries and redeliveries apply an order at most once."""
        started = time.monotonic()
        result = await self._control(order, institution, [0])
        metrics.ORDERS.labels(institution.id, order.type, result.status).inc()
        _observe(institution.id, "control", started, result.attempts)
        return result

    async def _control(self, order: OrderRequest, institution: Institution, attempts: list[int]) -> OrderResult:
        remaining = (order.deadline - utcnow()).total_seconds()
        if remaining <= 0:
            return _order_failed(order, "the order's deadline had passed before it reached the connector", 0)
        try:
            async with asyncio.timeout(remaining):
                async with self._limits[institution.id]:
                    with _in_flight(institution.id):
                        record = await self._with_retries(institution, lambda: self.connector.control(institution, order), attempts)
        except TimeoutError:
            return _order_failed(order, f"no answer from {institution.id} before the order deadline", attempts[0])
        except (Permanent, Retryable) as exc:
            return _order_failed(order, f"after {attempts[0]} attempts: {exc}", attempts[0])
        except Exception as exc:  # noqa: BLE001 - a connector bug must still end the order
            log.exception("connector error", institution=institution.id)
            return _order_failed(order, f"connector error: {exc!r}"[:500], attempts[0])
        fields = {k: record.get(k) for k in ("freeze_id", "held_fen", "requested_fen", "deducted_fen", "queue_position",
                                             "start_date", "end_date", "reason")}
        return OrderResult(order_id=order.order_id, institution_id=institution.id, status=record["status"],
                           duplicate=bool(record.get("duplicate")), attempts=attempts[0], answered_at=utcnow(), **fields)

    async def _with_retries(self, institution: Institution, call: Callable[[], Awaitable[T]], attempts: list[int]) -> T:
        """``call`` until it answers, retrying what is Retryable up to ``call_attempts`` times in all.
        The first attempt runs bare: nearly every call succeeds at once, and tenacity's per-attempt
        bookkeeping was ~15% of a bank call's CPU (py-spy); retries go through tenacity."""
        breaker = self._breaker(institution.id)
        try:
            return await self._attempt(institution, breaker, call, attempts)
        except Retryable as exc:
            if self.settings.call_attempts < 2:
                raise
            await asyncio.sleep(_backoff_s(1, exc))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.call_attempts - 1),
            wait=lambda state: _backoff_s(state.attempt_number + 1, state.outcome.exception() if state.outcome else None),
            retry=retry_if_exception_type(Retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(institution, breaker, call, attempts)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _attempt(self, institution: Institution, breaker: CircuitBreaker, call: Callable[[], Awaitable[T]],
                       attempts: list[int]) -> T:
        """One call, within ``call_timeout_s``, telling the breaker how the link fared."""
        attempts[0] += 1
        breaker.before_call()
        try:
            async with asyncio.timeout(self.settings.call_timeout_s):
                answer = await call()
        except TimeoutError:
            breaker.failed()
            raise Retryable(f"{institution.id} did not answer within {self.settings.call_timeout_s:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            breaker.failed()
            raise Retryable(f"{institution.id} connection error: {exc!r}"[:300]) from None
        except Retryable:
            breaker.failed()
            raise
        except Permanent:
            breaker.succeeded()  # it answered, if unhelpfully: the link works
            raise
        except asyncio.CancelledError:
            breaker.abandoned()  # the leg's deadline, or shutdown: no verdict on the institution
            raise
        finally:
            metrics.BREAKER_OPEN.labels(institution.id).set(1 if breaker.state == OPEN else 0)
        breaker.succeeded()
        return answer

    def _breaker(self, institution_id: str) -> CircuitBreaker:
        breaker = self._breakers.get(institution_id)
        if breaker is None:
            breaker = self._breakers[institution_id] = CircuitBreaker(
                institution_id, self.settings.breaker_failures, self.settings.breaker_cool_down_s
            )
        return breaker

    async def _commit(self) -> None:
        offsets = self.tracker.committable()
        if not offsets:
            return
        assigned = self.consumer.assignment()
        offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
        try:
            await self.consumer.commit(offsets)
            self.tracker.mark_committed(offsets)
        except KafkaError as exc:  # e.g. a rebalance in progress: the next commit catches up
            log.warning("commit failed", error=repr(exc))
        metrics.record_lag(self.group_id, self.consumer, self.tracker.committed)

    async def drain(self, partitions: set[TopicPartition], timeout_s: float = 20.0) -> None:
        """Before partitions go to another worker: finish their legs and commit them."""
        deadline = time.monotonic() + timeout_s
        while self.tracker.in_flight(partitions) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self._commit()
        self.tracker.forget(partitions)

    async def _shutdown(self, grace_s: float) -> None:
        """Stop fetching (the caller's loop has ended), let in-flight work finish for ``grace_s``,
        hand back the rest uncommitted (it is redelivered), commit, and leave the group."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)
        for task in self._tasks - self._publishing:
            task.cancel()  # still waiting on an institution: handed back
        await asyncio.gather(*(self._tasks - self._publishing), return_exceptions=True)
        self._stopping = True  # a result still publishing gives up retrying now; its offset stays uncommitted
        if self._publishing:
            await asyncio.wait(self._publishing, timeout=10)
        # Each Kafka step is bounded: with the broker gone they could wait for ever.
        for step in (self._commit(), self.consumer.stop(), self.producer.stop()):
            try:
                await asyncio.wait_for(step, timeout=10)
            except (asyncio.TimeoutError, KafkaError) as exc:
                log.warning("shutdown step gave up", error=repr(exc))
        await self.connector.aclose()
        log.info("worker stopped", kind=self.kind)


def _observe(institution_id: str, operation: str, started: float, attempts: int) -> None:
    metrics.LATENCY.labels(institution_id, operation).observe(time.monotonic() - started)
    if attempts > 1:
        metrics.RETRIES.labels(institution_id).inc(attempts - 1)


@contextlib.contextmanager
def _in_flight(institution_id: str):  # type: ignore[no-untyped-def]
    gauge = metrics.INFLIGHT.labels(institution_id)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: ConnectorWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.worker.drain(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


def _order_failed(order: OrderRequest, reason: str, attempts: int) -> OrderResult:
    return OrderResult(order_id=order.order_id, institution_id=order.institution_id, status="failed",
                       reason=reason, attempts=attempts, answered_at=utcnow())


def _result(
    leg: LegItem,
    status: str,
    reason: str | None,
    attempts: int = 0,
    started: float | None = None,
    answer: Found | None = None,
) -> LegResult:
    latency_ms = int((time.monotonic() - started) * 1000) if started is not None else 0
    return LegResult(
        leg_id=leg.leg_id,
        institution_id=leg.institution_id,
        status=status,  # type: ignore[arg-type]
        assets=list(answer.assets) if answer else [],
        reason=reason,
        attempts=attempts,
        latency_ms=latency_ms,
    )
