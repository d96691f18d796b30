"""Standing in for a dead gateway in its consumer groups.

Each gateway consumes results and events as a static group member (KIP-345, instance id from
``ASSETGW_INSTANCE``). When one of several gateways dies, Apache Kafka gives its partitions to the
others once its session times out; noida-db never expires a member, so the results on its
partitions would wait for its return (seen: a quarter of the freezes unanswered). So every
gateway beats in the shared store, and a survivor that finds a peer silent for longer than the
session timeout joins that peer's groups **under the peer's instance id**: the broker replaces the
dead member with the stand-in (its assignment with it), on any broker. The stand-in consumes
until the peer beats again, then leaves its place to the peer. One survivor per dead peer (a
chore lock), as two stand-ins with one instance id would fence each other. Results are applied
idempotently, so the overlap while the places change hands is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from gateway.store.interfaces import Peers

log = structlog.get_logger("standins")

BEAT_EVERY_S = 2.0
# Longer than the consumers' session timeout (15 s) plus a loop stall under a big batch, so a live
# but busy gateway is not stood in for.
SILENT_AFTER_S = 30.0

Consume = Callable[[str, asyncio.Event], Awaitable[None]]  # (instance, stop): consumes as that instance until stop


class StandIns:
    def __init__(self, peers: Peers, instance: str, consume: Consume, *, beat_every_s: float = BEAT_EVERY_S,
                 silent_after_s: float = SILENT_AFTER_S) -> None:
        self.peers, self.instance, self.consume = peers, instance, consume
        self.beat_every_s, self.silent_after_s = beat_every_s, silent_after_s
        self._standing: dict[str, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        self._leaving: set[asyncio.Task[None]] = set()

    @property
    def standing_for(self) -> list[str]:
        return sorted(self._standing)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                self.peers.beat(self.instance)
                self._review(set(self.peers.silent(self.instance, self.silent_after_s)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.beat_every_s)
        finally:
            for peer in list(self._standing):
                self._step_down(peer)
            await asyncio.gather(*self._leaving, return_exceptions=True)

    def _review(self, silent: set[str]) -> None:
        for peer, (_, task) in list(self._standing.items()):
            if task.done():  # it failed (the broker out of reach, say): tried again below
                self._standing.pop(peer)
                if not task.cancelled() and task.exception():
                    log.error("standing in failed", peer=peer, error=repr(task.exception()))
        for peer in sorted(set(self._standing) - silent):
            log.info("a gateway is back; leaving it its place", peer=peer)
            self._step_down(peer)
        for peer in sorted(silent - set(self._standing)):
            if self.peers.leads(f"stand-in:{peer}"):
                log.warning("a gateway fell silent; consuming in its place", peer=peer, silent_s=self.silent_after_s)
                done = asyncio.Event()
                self._standing[peer] = (done, asyncio.create_task(self.consume(peer, done), name=f"stand-in:{peer}"))

    def _step_down(self, peer: str) -> None:
        """The stand-in finishes what it fetched, commits and goes (in the background)."""
        done, task = self._standing.pop(peer)
        done.set()
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)
