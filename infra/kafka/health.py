"""Whether this process can reach Kafka, for its ``/healthz``.

One metadata request every few seconds on an admin client of its own, with a timeout (a broker
that is hung accepts connections but never answers), so health checks read a state instead of
each sending a request to the broker."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka.admin import AIOKafkaAdminClient

from infra.clock import now_ms, shown

log = structlog.get_logger("kafka.health")

PROBE_EVERY_S = 2.0
PROBE_TIMEOUT_S = 3.0


class KafkaHealth:
    def __init__(self, bootstrap: str, every_s: float = PROBE_EVERY_S, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self.bootstrap, self.every_s, self.timeout_s = bootstrap, every_s, timeout_s
        self.ok = False
        self.reason = "Kafka not reached yet"
        self._since = now_ms()
        self._admin: AIOKafkaAdminClient | None = None

    def problem(self) -> str | None:
        """None while Kafka answers; else why not and since when."""
        if self.ok:
            return None
        return f"{self.reason} (since {shown(self._since)})"

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.probe()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.every_s)
        finally:
            await self._close()

    async def probe(self) -> None:
        try:
            await asyncio.wait_for(self._describe(), self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - any failure means unreachable; the reason says which
            await self._close()  # a fresh client next time: the old one may hold a dead connection
            detail = f"no answer within {self.timeout_s:.0f}s" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            self._set(False, f"Kafka unreachable at {self.bootstrap}: {detail}")
        else:
            self._set(True, "")

    async def _describe(self) -> None:
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=int(self.timeout_s * 1000),
                                              client_id="health")
            await self._admin.start()
        await self._admin.describe_cluster()

    async def _close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()

    def _set(self, ok: bool, reason: str) -> None:
        if ok != self.ok:
            self._since = now_ms()
            (log.info if ok else log.warning)("kafka reachable" if ok else "kafka unreachable", reason=reason or None)
        self.ok, self.reason = ok, reason
