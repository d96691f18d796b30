"""The watch listener: turns institution events into alerts for the watches they match, and
freezes arriving money where a watch on funds says so (an ``EventListener``, gateway/events).

An event matches a watch when its type answers one of the watch's kinds (money arriving, a
vehicle sighted, a check-in), it concerns the watched debtor (``holder_id_number``), and the watch
is not ended and its term had not passed when the event happened. Each watch gets at most one
alert per event, so an event handed over twice alerts once and freezes once (the freeze's key is
derived from the watch and the event as well)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from pydantic import ValidationError

from gateway.orders.desk import OrderDesk, OrderRejected
from gateway.store.interfaces import AlertRepository, WatchRepository
from gateway.store.records import AlertRecord, WatchRecord
from gateway.watches.alerts import KIND_OF_EVENT, new_alert
from infra.clock import dt_to_ms
from schemas.directory import Directory
from schemas.events import InstitutionEvent
from schemas.orders import MONEY_KINDS, AssetRef, OrderCreate

log = structlog.get_logger("watches")


class WatchListener:
    def __init__(self, watches: WatchRepository, alerts: AlertRepository, desk: OrderDesk, directory: Directory,
                 on_alerts: Callable[[Sequence[AlertRecord]], None]) -> None:
        self.watches = watches
        self.alerts = alerts
        self.desk = desk
        self.directory = directory
        self.on_alerts = on_alerts  # fans new alerts out to open streams

    async def on_events(self, events: Sequence[InstitutionEvent]) -> None:
        stored: list[AlertRecord] = []
        for event in events:
            kind = KIND_OF_EVENT.get(event.type)
            if kind is None or event.holder_id_number is None:
                continue
            for watch in self.watches.active_on(event.holder_id_number, kind, dt_to_ms(event.at)):
                if self.alerts.exists(watch.id, event.event_id):
                    continue  # seen before: no second alert, no second freeze
                action = self._auto_freeze(watch, event) if kind == "funds" and watch.auto_freeze else None
                alert = self.alerts.add(new_alert(watch, event, self.directory, action))
                if alert is not None:
                    stored.append(alert)
                    log.info("watch alert", watch_id=watch.id, case_number=watch.case_number, kind=kind, seq=alert.seq,
                             order_id=(action or {}).get("order_id"))
        if stored:
            self.on_alerts(stored)

    def _auto_freeze(self, watch: WatchRecord, event: InstitutionEvent) -> dict[str, Any]:
        """Freezes what arrived, up to what the case may still freeze, through the order desk like any
        freeze; returns the order placed, or why none was."""
        if event.asset_kind not in MONEY_KINDS or event.asset_id is None or not event.amount_fen:
            return {"order_id": None, "reason": "the event names no money that arrived in an account"}
        documents = watch.auto_freeze or {}
        try:
            body = OrderCreate(
                type="freeze", case_number=watch.case_number, court=watch.court, institution_id=event.institution_id,
                asset=AssetRef(kind=event.asset_kind, id=event.asset_id), amount_fen=event.amount_fen,
                term_days=documents["term_days"], ruling_number=documents["ruling_number"], notice_number=documents["notice_number"],
                officer_credentials=documents["officer_credentials"], operator=watch.officer_id,
                idempotency_key=f"watch:{watch.id}:{event.event_id}",
            )
        except ValidationError as exc:  # e.g. an amount beyond what an order may name
            return {"order_id": None, "reason": f"no freeze could be made of this event: {exc.errors(include_url=False)[0]['msg']}"}
        try:
            order, _ = self.desk.freeze_arrival(body, event.amount_fen)
        except OrderRejected as exc:
            return {"order_id": None, "reason": exc.message}
        return {"order_id": order.id, "amount_fen": order.amount_fen}
