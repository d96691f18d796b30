"""Fans new alerts out to the open alert streams of this gateway process.

The store is the record; this only saves each stream a query per alert. A stream subscribes
before it reads what it missed from the store, and skips what it has already sent by ``seq``, so
nothing falls between the two. A stream that falls far behind is told to catch up from the store
rather than holding an ever longer list."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.store.records import AlertRecord

MAX_PENDING = 1000  # alerts held for one slow stream before it is sent back to the store


class Subscription:
    def __init__(self) -> None:
        self.pending: list[AlertRecord] = []
        self.overflowed = False  # more arrived than MAX_PENDING: read from the store instead
        self.closed = False
        self._ready = asyncio.Event()

    def push(self, alerts: Sequence[AlertRecord]) -> None:
        if len(self.pending) + len(alerts) > MAX_PENDING:
            self.pending.clear()
            self.overflowed = True
        else:
            self.pending.extend(alerts)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def wait(self, timeout: float) -> bool:
        """True when something arrived (or the subscription closed) within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        self._ready.clear()
        return True

    def take(self) -> tuple[list[AlertRecord], bool]:
        """(alerts pushed since the last take, whether some were dropped and must be read from the store)."""
        taken, overflowed = self.pending, self.overflowed
        self.pending, self.overflowed = [], False
        return taken, overflowed


class AlertBroadcaster:
    def __init__(self, heartbeat_s: float = 15.0) -> None:
        self.heartbeat_s = heartbeat_s  # a comment line this often keeps proxies from closing an idle stream
        self.subscriptions: set[Subscription] = set()
        self.closed = False

    def publish(self, alerts: Sequence[AlertRecord]) -> None:
        for subscription in self.subscriptions:
            subscription.push(alerts)

    def subscribe(self) -> Subscription:
        subscription = Subscription()
        if self.closed:
            subscription.close()
        else:
            self.subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)

    def close(self) -> None:
        """The gateway is stopping: every stream ends."""
        self.closed = True
        for subscription in self.subscriptions:
            subscription.close()
        self.subscriptions.clear()
