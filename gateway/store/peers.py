"""What gateways sharing one store tell each other (``Peers`` in gateway/store/interfaces.py). A
store that one process owns (SQLite) has no peers: every chore is its own and nothing need be told."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable


class NoPeers:
    rate_buckets = None  # rate limits stay in the process

    def leads(self, chore: str) -> bool:
        return True

    def beat(self, instance: str) -> None:
        pass

    def silent(self, instance: str, for_s: float) -> list[str]:
        return []

    def announce(self, topic: str, ids: Iterable[str]) -> None:
        pass

    async def listen(self, topic: str, on_ids: Callable[[list[str]], None], stop: asyncio.Event) -> None:
        await stop.wait()
