"""Fund centres (住房公积金管理中心, 社会保险经办机构): a provincial data-exchange envelope.

Every call is ``POST /{inst}/exchange`` with ``{"head": {...}, "body": {...}}``, field names in the
pinyin abbreviations of provincial government exchange platforms; the transaction code ``jydm``
in the head says what is asked, and the answer's head carries a return code ``fhdm`` (``0000``
done, ``1001`` refused, ``1002`` unknown transaction) with its message ``fhxx``:

- ``CX01`` batch query, up to 200 subjects: body ``{"ah" (case), "tzsh" (notice), "zfzh"
  (officer credentials), "cxdx": [{"xh" (the caller's id), "zjlx" ("A" resident id, "B" credit
  code), "zjhm", "xm"}]}`` → body ``{"cxjg": [{"xh", "cxzt" ("1" found, "0" none), "zhxx":
  [{"grzh", "xzlx" ("GJJ" provident fund, "SB" social insurance), "zhye" (balance, fen), "zhzt"
  (正常/封存), "bhyy" (why it is protected)}]}]}`` in subject order. An unregistered credential
  refuses the whole batch (``1001``): the legal basis is the batch's.
- ``KZ01`` control (the common control request in ``body``) → ``0000`` with a control record that
  is always ``refused`` with the legal reason: these funds may not be frozen or deducted
  (social insurance funds never; the provident fund only once withdrawal conditions are met, which
  an enforcement order does not make). Nothing is ever controlled, so there is no ledger here.

HTTP-level faults (errors, throttling, hangs, garbage) come from ``faults`` like every kind's.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from schemas.assets import FundAccount
from simulators.apps.common import (
    REFUSAL_UNREGISTERED,
    SimContext,
    WireModel,
    holdings,
    http_error,
    institution,
    json_response,
    read_json,
    validate,
)
from simulators.apps.faults import misbehave
from simulators.control_order import ControlOrder

MAX_SUBJECTS = 200
OK, REFUSED, UNKNOWN_TRANSACTION = "0000", "1001", "1002"
XZLX = {"housing_provident_fund": "GJJ", "social_insurance": "SB"}
ZJLX = {"A": "person", "B": "organisation"}
NO_SUCH_ACCOUNT = "本中心无此账户 (no such account at this centre)"


class Head(WireModel):
    jylsh: str = Field(min_length=1, max_length=128, description="transaction serial number")
    jydm: str = Field(min_length=1, max_length=8, description="transaction code")
    fydm: str = Field(default="", max_length=64, description="the asking court")


class Envelope(WireModel):
    head: Head
    body: dict[str, Any]


class Cxdx(WireModel):
    xh: str = Field(min_length=1, max_length=128)
    zjlx: Literal["A", "B"]
    zjhm: str = Field(min_length=1, max_length=64)
    xm: str


class QueryBody(WireModel):
    ah: str
    tzsh: str
    zfzh: list[str]
    cxdx: list[Cxdx] = Field(min_length=1, max_length=MAX_SUBJECTS)


# The transaction codes a centre serves, and the body each carries.
BODIES: dict[str, type[BaseModel]] = {"CX01": QueryBody, "KZ01": ControlOrder}


def _answer(head: Head, code: str, message: str, body: dict[str, Any] | None = None) -> web.Response:
    return json_response({"head": {"jylsh": head.jylsh, "jydm": head.jydm, "fhdm": code, "fhxx": message}, "body": body or {}})


async def exchange(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    try:
        envelope = validate(Envelope, await read_json(request))
        model = BODIES.get(envelope.head.jydm)
        body = validate(model, envelope.body) if model is not None else None
    except ValueError as exc:
        raise http_error(web.HTTPBadRequest, "bad_request", str(exc)) from None
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    head = envelope.head
    if isinstance(body, QueryBody):
        if not ctx.population.is_registered(body.zfzh):
            return _answer(head, REFUSED, REFUSAL_UNREGISTERED)
        return _answer(head, OK, "成功", {"cxjg": [_lookup(ctx, inst, s) for s in body.cxdx]})
    if isinstance(body, ControlOrder):
        return _answer(head, OK, "已处理", _control(ctx, inst, body))
    return _answer(head, UNKNOWN_TRANSACTION, f"未知交易代码 {head.jydm} (unknown transaction code)")


def _lookup(ctx: SimContext, inst: str, subject: Cxdx) -> dict[str, Any]:
    accounts = [a for a in holdings(ctx, inst, subject.zjhm, ZJLX[subject.zjlx]) if isinstance(a, FundAccount)]
    return {"xh": subject.xh, "cxzt": "1" if accounts else "0", "zhxx": [
        {"grzh": a.account_no, "xzlx": XZLX[a.fund_type], "zhye": a.value_fen, "zhzt": a.account_status, "bhyy": a.protected_reason}
        for a in accounts
    ]}


def _control(ctx: SimContext, inst: str, order: ControlOrder) -> dict[str, Any]:
    """Every control order is refused; the reason says why in law (or that there is no such account)."""
    if not ctx.population.is_registered(order.officer_credentials):
        reason = REFUSAL_UNREGISTERED
    else:
        account = next((a for a in ctx.population.assets_at(inst, order.debtor_id_number)
                        if isinstance(a, FundAccount) and a.account_no == order.asset.id), None)
        reason = NO_SUCH_ACCOUNT if account is None else f"不予协助：{account.protected_reason}"
    return {"order_id": order.order_id, "status": "refused", "freeze_id": None, "held_fen": None, "requested_fen": None,
            "deducted_fen": None, "queue_position": None, "start_date": None, "end_date": None, "reason": reason, "duplicate": False}


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/exchange", exchange)
