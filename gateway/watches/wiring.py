"""The watch parts of one gateway process, built together: the desk the routes use, the broadcaster
that feeds open alert streams, and ``listener`` and ``refused_purchases``, the ``EventListener``s the event consumer calls."""

from __future__ import annotations

from gateway.orders.desk import OrderDesk
from gateway.store.interfaces import Store
from gateway.watches.broadcast import AlertBroadcaster
from gateway.watches.desk import WatchDesk
from gateway.watches.listener import WatchListener
from gateway.watches.travel import RefusedPurchaseListener
from schemas.directory import Directory


class Watches:
    def __init__(self, store: Store, orders: OrderDesk, directory: Directory, heartbeat_s: float = 15.0) -> None:
        self.desk = WatchDesk(store)
        self.alerts = store.alerts
        self.broadcaster = AlertBroadcaster(heartbeat_s)
        self.listener = WatchListener(store.watches, store.alerts, orders, directory, self.broadcaster.publish)
        # Carriers' refused ticket purchases alert the courts whose restrictions refused them.
        self.refused_purchases = RefusedPurchaseListener(store.orders, store.alerts, directory, self.broadcaster.publish)
