"""Status queries on the wire: the current state of some freezes and accounts at one institution,
stamped with its feed position. Banks, land registries and vehicle offices take
``POST /{institution}/controls/status``; payment apps the same body inside their gateway envelope.

Body ``{"freeze_ids": [...], "asset_ids": [...]}`` → ``{"as_of_seq", "freezes": [FreezeState...],
"unknown_freeze_ids", "balances": [{"asset_id", "balance_fen"}]}``. Unknown extra fields in the
answer are ignored, as partner gateways do; a missing or ill-typed one makes the answer unreadable."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from connectors.contract.base import Permanent, Retryable
from connectors.contract.transport import Transport
from connectors.kinds.http_errors import check_status, require_dict
from schemas.directory import Institution
from schemas.events import AccountBalance, ControlStatusQuery, ControlStatusReport, FreezeState
from schemas.messages import utcnow


def status_request(query: ControlStatusQuery) -> dict[str, Any]:
    return {"freeze_ids": list(query.freeze_ids), "asset_ids": list(query.asset_ids)}


def status_report(data: Any, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
    """The institution's answer as an ``answered`` report; an unreadable one is worth asking again."""
    try:
        return ControlStatusReport(
            run_id=query.run_id, institution_id=institution.id, status="answered", as_of_seq=data["as_of_seq"],
            freezes=[_known(FreezeState, f) for f in data.get("freezes") or []],
            unknown_freeze_ids=data.get("unknown_freeze_ids") or [],
            balances=[_known(AccountBalance, b) for b in data.get("balances") or []],
            answered_at=utcnow(),
        )
    except (KeyError, TypeError, AttributeError, ValidationError) as exc:
        raise Retryable(f"{institution.id} sent an unreadable status answer: {exc!r}"[:300]) from None


async def post_status(transport: Transport, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
    reply = await transport.send("POST", f"/{institution.id}/controls/status", status_request(query))
    check_status(reply, institution.id)
    if reply.status == 403:
        raise Permanent(f"{institution.id} forbade the status request: {reply.body}")
    return status_report(require_dict(reply, institution.id), institution, query)


def _known(model: type[BaseModel], item: dict[str, Any]) -> Any:
    return model.model_validate({k: v for k, v in item.items() if k in model.model_fields})
