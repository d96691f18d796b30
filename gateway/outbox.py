"""The outbox relay: publishes ``pending`` legs to their kind's topic, then marks them ``sent``.

It reads from the store rather than from memory, so the same loop that sends a new inquiry's
legs also sends, after a restart, whatever was acknowledged but not yet published.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from gateway.bus.topics import legs_topic
from gateway.store import Store
from schemas.debtor import Debtor
from schemas.messages import LegRequest, encode
from gateway.clock import ms_to_dt, now_ms

log = structlog.get_logger("outbox")

PAGE = 2000


class LegRelay:
    def __init__(self, store: Store, producer: AIOKafkaProducer, topic_prefix: str) -> None:
        self.store = store
        self.producer = producer
        self.prefix = topic_prefix
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        self._wake.set()  # first pass: whatever a previous run left unsent
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while await self._publish_page():
                    pass
            except KafkaError as exc:
                log.warning("publishing legs failed; will retry", error=repr(exc))
                await asyncio.sleep(1.0)
                self._wake.set()

    async def _publish_page(self) -> int:
        rows = self.store.pending_legs(PAGE)
        if not rows:
            return 0
        futures = []
        for row in rows:
            leg = _leg_from_row(row)
            value = encode(leg, inquiry_id=leg.inquiry_id, leg_id=leg.leg_id, batch_id=leg.batch_id)
            # Keyed by debtor: spreads load over partitions while one debtor's legs stay together.
            futures.append(await self.producer.send(
                legs_topic(self.prefix, leg.institution_kind), value, key=leg.debtor.id_number.encode()
            ))
        await asyncio.gather(*futures)
        self.store.mark_sent([row["id"] for row in rows], now_ms())
        self.published += len(rows)
        return len(rows)


def _leg_from_row(row) -> LegRequest:  # type: ignore[no-untyped-def]
    return LegRequest(
        leg_id=row["id"],
        inquiry_id=row["inquiry_id"],
        batch_id=row["batch_id"],
        case_number=row["case_number"],
        court=row["court"],
        notice_number=row["notice_number"],
        officer_credentials=orjson.loads(row["officer_credentials"]),
        debtor=Debtor(kind=row["debtor_kind"], id_number=row["id_number"], name=row["name"]),
        institution_id=row["institution_id"],
        institution_kind=row["institution_kind"],
        deadline=ms_to_dt(row["deadline"]),
    )
