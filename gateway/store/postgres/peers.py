"""Gateways sharing one PostgreSQL database: who runs the chores that must run once (a session
advisory lock per chore, held while the holder's connection lives, so a gateway killed with -9
hands it over as soon as the server notices the connection gone), and news for the other
instances (NOTIFY/LISTEN: which inquiries were touched, so a ``?wait`` long-poll on any instance
wakes at once)."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Callable, Iterable

import psycopg
import structlog

from gateway.store.postgres.access import PgRateBuckets
from gateway.store.postgres.connection import Connection

log = structlog.get_logger("peers")

_PAYLOAD_MAX = 7000  # NOTIFY's payload limit is 8,000 bytes
_CHORE_LOCKS = 0x6173  # the chores' advisory locks are (this, crc32(chore)): apart from the schema's


def channel(topic: str) -> str:
    return f"assetgw_{topic}"


class PgPeers:
    def __init__(self, db: Connection, url: str) -> None:
        self.db, self.url = db, url
        self.rate_buckets = PgRateBuckets(db)
        self._held: set[str] = set()

    def leads(self, chore: str) -> bool:
        """Whether this gateway runs ``chore``: it takes the chore's lock if free and keeps it."""
        if chore not in self._held:
            got = self.db.execute("SELECT pg_try_advisory_lock(%s, %s)", (_CHORE_LOCKS, _key(chore))).fetchone()
            if got and got[0]:
                log.info("this gateway runs a chore for all", chore=chore)
                self._held.add(chore)
        return chore in self._held

    def beat(self, instance: str) -> None:
        # The server's clock, so gateways on machines whose clocks differ still agree who fell silent.
        self.db.execute("INSERT INTO gateway_instances (instance, seen_at) VALUES (%s, now()) "
                        "ON CONFLICT (instance) DO UPDATE SET seen_at = now()", (instance,))

    def silent(self, instance: str, for_s: float) -> list[str]:
        rows = self.db.execute("SELECT instance FROM gateway_instances WHERE instance <> %s "
                               "AND seen_at < now() - make_interval(secs => %s) ORDER BY instance", (instance, for_s))
        return [r[0] for r in rows]

    def announce(self, topic: str, ids: Iterable[str]) -> None:
        part: list[str] = []
        size = 0
        for item in ids:
            if size + len(item) + 1 > _PAYLOAD_MAX:
                self._notify(topic, part)
                part, size = [], 0
            part.append(item)
            size += len(item.encode()) + 1
        if part:
            self._notify(topic, part)

    def _notify(self, topic: str, ids: list[str]) -> None:
        self.db.execute("SELECT pg_notify(%s, %s)", (channel(topic), "\n".join(ids)))

    async def listen(self, topic: str, on_ids: Callable[[list[str]], None], stop: asyncio.Event) -> None:
        """Calls ``on_ids`` with what any gateway (this one too) announces on ``topic``, until
        ``stop``; reconnects if the connection drops."""
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {channel(topic)}")
                    while not stop.is_set():
                        async for note in conn.notifies(timeout=1.0):
                            on_ids(note.payload.split("\n"))
            except psycopg.OperationalError as exc:
                log.warning("listening for other gateways failed; again shortly", topic=topic, error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)


def _key(chore: str) -> int:
    return zlib.crc32(chore.encode()) - 2**31  # an int4, as pg_try_advisory_lock(int, int) takes
