"""The national securities depository (中国结算): business messages with return codes, one
endpoint. A query (``Q001``) answers accounts and their holdings at any hour; freezes by quantity,
continuations and unfreezes (``F001``-``F003``) are taken only in the depository's working hours.

Outside them the depository answers ``2001`` with its next submission time; this connector then
returns a ``deferred`` record whose delay is that time less the depository's own ``server_time``
(both on its clock, so a simulated clock moved on shortens it), and the runtime holds the order and
submits it again then (``connectors.runtime.orders``). The request number is the order id, so a
resubmission the depository already processed is answered as the first time."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from connectors.contract.base import Answer, Found, NotFound, Permanent, Retryable
from connectors.kinds.common import answers_by_leg, legal_basis, refuse_all, subject
from connectors.kinds.control import control_record
from connectors.kinds.http_base import HttpConnector
from connectors.kinds.http_errors import check_status, require_dict
from schemas.assets import SecuritiesHolding, holding_id
from schemas.directory import Institution
from schemas.messages import LegBatch, new_id
from schemas.orders import DEFERRED, OrderRequest

MAX_BATCH = 500
OK, UNREGISTERED, OUTSIDE_HOURS, REFUSED = "0000", "1001", "2001", "3001"
BIZ_CODES = {"freeze": "F001", "continue": "F002", "unfreeze": "F003"}


class SecuritiesDepositoryConnector(HttpConnector):
    kind: ClassVar[str] = "securities"
    max_batch: ClassVar[int] = MAX_BATCH

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        body = {"biz_code": "Q001", "request_no": new_id(), **legal_basis(batch), "subjects": [subject(leg) for leg in batch.legs]}
        answer = await self._send(institution, body)
        if answer.get("ret_code") == UNREGISTERED:
            return refuse_all(batch, str(answer.get("ret_msg") or "执行公务证未备案"))
        if answer.get("ret_code") != OK:
            raise Retryable(f"{institution.id} answered the query with {answer.get('ret_code')!r}: {answer.get('ret_msg')}")
        return answers_by_leg(institution, batch, answer.get("results"), "request_id",
                              lambda item, leg: _holdings(institution, item))

    async def control(self, institution: Institution, order: OrderRequest) -> dict[str, Any]:
        if order.type not in BIZ_CODES:
            raise Permanent(f"the depository takes no {order.type} orders: securities are frozen, continued and unfrozen only")
        account, _, code = order.asset.id.partition(":")
        body = {
            "biz_code": BIZ_CODES[order.type], "request_no": order.order_id, "court": order.court, "case_number": order.case_number,
            "debtor_id_number": order.debtor_id_number, "account_no": account, "security_code": code, "quantity": order.quantity,
            "term_days": order.term_days, "original_request_no": order.original_freeze_id, "ruling_number": order.ruling_number,
            "notice_number": order.notice_number, "officer_credentials": order.officer_credentials,
            "served_at": order.served_at.isoformat(),
        }
        answer = await self._send(institution, body)
        code_ = answer.get("ret_code")
        if code_ == OUTSIDE_HOURS:
            return _deferred(institution, order, answer)
        if code_ not in (OK, REFUSED):
            raise Permanent(f"{institution.id} answered {code_!r}: {answer.get('ret_msg')}")
        return control_record(answer.get("record"), institution, order)

    async def _send(self, institution: Institution, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.transport.send("POST", f"/{institution.id}/csdc/v1/business", body)
        check_status(reply, institution.id)
        return require_dict(reply, institution.id)


def _holdings(institution: Institution, item: dict[str, Any]) -> Answer:
    found = [
        SecuritiesHolding(institution_id=institution.id, holding_id=holding_id(account["account_no"], h["security_code"]),
                          account_no=account["account_no"], security_code=h["security_code"], security_name=h["security_name"],
                          quantity=h["quantity"], price_fen=h["price_fen"], value_fen=h["value_fen"])
        for account in item["accounts"] for h in account["holdings"]
    ]
    return Found(found) if found else NotFound("no securities account")


def _deferred(institution: Institution, order: OrderRequest, answer: dict[str, Any]) -> dict[str, Any]:
    """The depository's 2001: submit again at its next submission time, measured on its own clock."""
    try:
        at, now = datetime.fromisoformat(answer["next_submit_time"]), datetime.fromisoformat(answer["server_time"])
    except (KeyError, TypeError, ValueError):
        raise Retryable(f"{institution.id} refused the submission outside working hours without a readable next time") from None
    return {"order_id": order.order_id, "status": DEFERRED, "resubmit_in_s": max((at - now).total_seconds(), 0.0),
            "reason": f"{answer.get('ret_msg') or '非工作时间'}: 下次提交时间 {at.isoformat()}"}
