"""The watch desk: places, lists and ends officers' watches on debtors of their cases.

The court's own cases only is the HTTP layer's check (``require_case``); here the case must exist
(an inquiry opened it) under that court and the debtor must be one its inquiries asked about.
Placing is idempotent on the key, scoped to the court like an order's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.orders.desk import scoped_key, unscoped_key
from gateway.store.interfaces import Store
from gateway.store.records import NewWatch, WatchRecord
from infra.clock import day_end_ms, now_ms, shown
from schemas.messages import new_id
from schemas.watches import WatchCreate


@dataclass
class WatchRejected(Exception):
    status: int
    field: str
    message: str


class WatchDesk:
    def __init__(self, store: Store) -> None:
        self.store = store

    def place(self, body: WatchCreate) -> tuple[WatchRecord, bool]:
        """Returns (watch, replayed). The same key with the same request returns the first watch;
        with a different one it is refused (409)."""
        key = scoped_key(body.case_number, body.idempotency_key)
        digest = hashlib.sha256(orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()
        with self.store.unit_of_work() as uow:
            existing = uow.watches.by_key(key)
            if existing is not None:
                if existing.request_digest != digest:
                    raise WatchRejected(409, "idempotency_key", "this key already names a different watch")
                return existing, True
            case = uow.cases.get(body.case_number)
            if case is None:
                raise WatchRejected(422, "case_number", "no inquiry for this case; a watch is placed on a debtor an inquiry asked about")
            if case.court != body.court:
                raise WatchRejected(422, "court", f"the case is held by {case.court}")
            if body.debtor_id_number not in uow.inquiries.case_debtors(body.case_number):
                raise WatchRejected(422, "debtor_id_number", "not a debtor of this case: no inquiry of the case asked about them")
            watch = NewWatch(
                id=new_id(), idempotency_key=key, request_digest=digest, case_number=body.case_number, court=body.court,
                debtor_id_number=body.debtor_id_number, kinds=tuple(body.kinds), until=day_end_ms(body.until),
                auto_freeze=body.auto_freeze.model_dump(mode="json") if body.auto_freeze else None,
                officer_id=body.operator, created_at=now_ms(),  # type: ignore[arg-type]
            )
            uow.watches.add(watch)
        return self.get(watch.id), False

    def get(self, watch_id: str) -> WatchRecord:
        watch = self.store.watches.get(watch_id)
        if watch is None:
            raise WatchRejected(404, "watch_id", f"no watch {watch_id}")
        return watch

    def of_court(self, court: str, case_number: str | None = None) -> list[WatchRecord]:
        return self.store.watches.of_court(court, case_number)

    def end(self, watch_id: str, officer_id: str) -> tuple[WatchRecord, bool]:
        """Returns (watch, ended now). Ending an ended watch changes nothing: the first ending stands."""
        ended = self.store.watches.end(watch_id, officer_id, now_ms())
        return self.get(watch_id), ended


def watch_view(watch: WatchRecord, now: int | None = None) -> dict[str, Any]:
    now = now_ms() if now is None else now
    status = "ended" if watch.ended_at is not None else ("active" if now < watch.until else "expired")
    return {
        "id": watch.id, "status": status, "case_number": watch.case_number, "court": watch.court,
        "debtor_id_number": watch.debtor_id_number, "kinds": list(watch.kinds),
        "until": shown(watch.until - 1)[:10],  # type: ignore[index]  # the last day watched, as placed
        "watched_until": shown(watch.until), "auto_freeze": watch.auto_freeze, "officer": watch.officer_id,
        "idempotency_key": unscoped_key(watch.idempotency_key), "created_at": shown(watch.created_at),
        "ended_at": shown(watch.ended_at), "ended_by": watch.ended_by,
    }
