"""Control orders on the wire: the request institutions take and the control record they answer.

Every kind takes the same control request; banks, land registries and vehicle offices at
``POST /{institution}/controls``, payment apps inside their gateway envelope. Retrying a control
call is safe: institutions dedupe on ``order_id``."""

from __future__ import annotations

from typing import Any, get_args

from connectors.contract.base import Permanent, Retryable
from connectors.contract.transport import Transport
from connectors.kinds.http_errors import check_status, require_dict
from schemas.directory import Institution
from schemas.orders import ControlAnswer, OrderRequest

ANSWERS = get_args(ControlAnswer)


def control_request(order: OrderRequest) -> dict[str, Any]:
    return {
        "order_id": order.order_id, "type": order.type, "court": order.court, "case_number": order.case_number,
        "asset": order.asset.model_dump(), "debtor_id_number": order.debtor_id_number,
        "amount_fen": order.amount_fen, "term_days": order.term_days, "ruling_number": order.ruling_number,
        "notice_number": order.notice_number, "officer_credentials": order.officer_credentials,
        "original_freeze_id": order.original_freeze_id, "enforcement_account": order.enforcement_account,
        "operator": order.operator, "checker": order.checker, "served_at": order.served_at.isoformat(),
    }


def control_record(data: Any, institution: Institution, order: OrderRequest) -> dict[str, Any]:
    """Check the institution's control record; a garbled one is worth asking again (dedupe makes it safe)."""
    if not isinstance(data, dict) or data.get("order_id") != order.order_id:
        raise Retryable(f"{institution.id} sent a control record for another order or none")
    if data.get("status") not in ANSWERS:
        raise Permanent(f"{institution.id} answered unknown control status {data.get('status')!r}")
    return data


async def post_control(transport: Transport, institution: Institution, order: OrderRequest) -> dict[str, Any]:
    reply = await transport.send("POST", f"/{institution.id}/controls", control_request(order))
    check_status(reply, institution.id)
    if reply.status == 403:
        raise Permanent(f"{institution.id} forbade the control request: {reply.body}")
    return control_record(require_dict(reply, institution.id), institution, order)
