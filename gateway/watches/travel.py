"""Refused ticket purchases become alerts (an ``EventListener``, gateway/events): a carrier's
``purchase_refused`` event names the restriction orders that refused it, and each court whose
restriction it is hears of it on the debtor's case. The event is believed only as far as the
gateway's own orders bear it out — a restriction of that carrier, on that person — and each order
gets at most one alert per event, so an event handed over twice alerts once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from gateway.store.interfaces import AlertRepository, OrderRepository
from gateway.store.records import AlertRecord
from gateway.watches.alerts import restriction_alert
from schemas.directory import Directory
from schemas.events import InstitutionEvent
from schemas.orders import RESTRICTING

log = structlog.get_logger("watches")


class RefusedPurchaseListener:
    def __init__(self, orders: OrderRepository, alerts: AlertRepository, directory: Directory,
                 on_alerts: Callable[[Sequence[AlertRecord]], None]) -> None:
        self.orders = orders
        self.alerts = alerts
        self.directory = directory
        self.on_alerts = on_alerts  # fans new alerts out to open streams

    async def on_events(self, events: Sequence[InstitutionEvent]) -> None:
        stored: list[AlertRecord] = []
        for event in events:
            if event.type != "purchase_refused":
                continue
            for order_id in event.restriction_ids or []:
                order = self.orders.get(order_id)
                if (order is None or order.type not in RESTRICTING or order.institution_id != event.institution_id
                        or order.debtor_id_number != event.holder_id_number):
                    log.warning("refused purchase names no restriction of ours", event_id=event.event_id, order_id=order_id)
                    continue
                if self.alerts.exists(order.id, event.event_id):
                    continue
                alert = self.alerts.add(restriction_alert(order, event, self.directory))
                if alert is not None:
                    stored.append(alert)
                    log.info("refused purchase alert", order_id=order.id, case_number=order.case_number, seq=alert.seq)
        if stored:
            self.on_alerts(stored)
