"""What an alert says: what happened (in Chinese for officers, and as machine fields), where, when
(Asia/Shanghai) and which watch matched — built from an institution event and a watch, and shown.

A carrier's refused ticket purchase alerts without a watch: the restriction order that refused it
stands in the watch's place (``watch_id`` holds its id, ``restriction_order_id`` says so), since
placing a restriction is itself the court's standing measure on that debtor."""

from __future__ import annotations

from typing import Any

from gateway.store.records import AlertRecord, NewAlert, OrderRecord, WatchRecord
from infra.clock import dt_to_ms, now_ms, shown
from schemas.directory import Directory
from schemas.events import InstitutionEvent
from schemas.money import yuan
from schemas.restrictions import LEGAL_BASIS
from schemas.watches import EVENT_OF_KIND

# The watch kind each institution event answers.
KIND_OF_EVENT = {event: kind for kind, event in EVENT_OF_KIND.items()}
KIND_LABELS = {"funds": "资金到账", "vehicle": "车辆布控", "lodging": "住宿登记", "travel": "购票被拒"}
_ACCOUNT_LABELS = {"deposit": "账户", "wallet": "支付账户", "court_claim": "案款债权"}
# Money arriving for the debtor at another court (a payout due to him as an applicant) is not an account credit.
_ARRIVAL_LABELS = {"court_claim": "他案执行款到账"}


def new_alert(watch: WatchRecord, event: InstitutionEvent, directory: Directory, auto_freeze: dict[str, Any] | None) -> NewAlert:
    """``auto_freeze``: the freeze placed for the arrival (``order_id``, ``amount_fen``) or why none
    was (``reason``); None when the watch has no automatic action."""
    institution = directory.by_id.get(event.institution_id)
    where = {"place": event.place, "region": event.region, "institution_id": event.institution_id,
             "institution_name": institution.name if institution else event.institution_id}
    what = {"type": event.type, "amount_fen": event.amount_fen, "balance_fen": event.balance_fen,
            "asset": {"kind": event.asset_kind, "id": event.asset_id} if event.asset_id else None}
    detail: dict[str, Any] = {"what": what, "where": where}
    if auto_freeze is not None:
        detail["auto_freeze"] = auto_freeze
    kind = KIND_OF_EVENT[event.type]
    return NewAlert(
        watch_id=watch.id, event_id=event.event_id, case_number=watch.case_number, court=watch.court,
        debtor_id_number=watch.debtor_id_number, kind=kind, event_type=event.type, institution_id=event.institution_id,
        at=dt_to_ms(event.at), summary=_summary(kind, event, where["institution_name"], auto_freeze), detail=detail,
        created_at=now_ms(),
    )


def _summary(kind: str, event: InstitutionEvent, institution_name: str, auto_freeze: dict[str, Any] | None) -> str:
    place = "".join(p for p in (event.region and f"{event.region} ", event.place) if p) or institution_name
    if kind == "funds":
        account = f"{institution_name} {_ACCOUNT_LABELS.get(event.asset_kind or '', '账户')} {event.asset_id or ''}".rstrip()
        text = f"{_ARRIVAL_LABELS.get(event.asset_kind or '', '账户到账')} {yuan(event.amount_fen or 0)}（{account}"
        text += f"，余额 {yuan(event.balance_fen)}）" if event.balance_fen is not None else "）"
        if auto_freeze is not None:
            text += (f"；已自动冻结 {yuan(auto_freeze['amount_fen'])}" if auto_freeze.get("order_id")
                     else f"；未自动冻结：{auto_freeze['reason']}")
        return text
    if kind == "vehicle":
        return f"车辆 {event.asset_id or ''} 出现在 {place}".replace("  ", " ")
    return f"入住 {place}"


def restriction_alert(order: OrderRecord, event: InstitutionEvent, directory: Directory) -> NewAlert:
    """A restricted debtor tried to buy a ticket: the carrier refused it under ``order``."""
    institution = directory.by_id.get(event.institution_id)
    name = institution.name if institution else event.institution_id
    detail = {"what": {"type": event.type, "asset": None}, "restriction_order_id": order.id,
              "where": {"place": event.place, "region": event.region, "institution_id": event.institution_id, "institution_name": name}}
    title = LEGAL_BASIS[order.type].title if order.type in LEGAL_BASIS else order.type
    return NewAlert(
        watch_id=order.id, event_id=event.event_id, case_number=order.case_number, court=order.court,
        debtor_id_number=order.debtor_id_number, kind="travel", event_type=event.type, institution_id=event.institution_id,
        at=dt_to_ms(event.at), summary=f"购票被拒：{name} {event.place or ''}（{title}，{order.ruling_number}）",
        detail=detail, created_at=now_ms(),
    )


def alert_view(alert: AlertRecord) -> dict[str, Any]:
    return {
        "seq": alert.seq, "watch_id": alert.watch_id, "case_number": alert.case_number, "court": alert.court,
        "debtor_id_number": alert.debtor_id_number, "kind": alert.kind, "kind_label": KIND_LABELS.get(alert.kind, alert.kind),
        "summary": alert.summary, "what": alert.detail.get("what"), "where": alert.detail.get("where"),
        "when": shown(alert.at), "alerted_at": shown(alert.created_at), "event_id": alert.event_id,
        "auto_freeze": alert.detail.get("auto_freeze"), "restriction_order_id": alert.detail.get("restriction_order_id"),
    }
