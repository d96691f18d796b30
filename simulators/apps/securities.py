"""The national securities depository (中国证券登记结算有限责任公司): depository business messages.

One endpoint, ``POST /{inst}/csdc/v1/business``: a business code ``biz_code`` and the caller's
request number ``request_no`` (the depository dedupes control business on it), answered with a
return code ``ret_code`` and message ``ret_msg`` and the depository's own time ``server_time``:

- ``Q001`` query accounts and holdings, up to 500 subjects (legal basis as the 总对总 batch: case,
  court, notice, credentials; ``subjects``: ``{"request_id", "id_type", "id_number", "name"}``) →
  ``0000`` with ``trade_date`` (the day the prices are of) and ``results``: per subject
  ``{"request_id", "accounts": [{"account_no", "holdings": [{"security_code", "security_name",
  "quantity", "price_fen", "value_fen"}]}]}``, subjects in request order, an empty list when the
  subject has no account. ``1001`` when no credential is registered. Answered at any hour.
- ``F001`` freeze (names ``account_no``, ``security_code``, ``quantity`` shares, ``term_days``),
  ``F002`` continue (续冻: ``original_request_no``, ``term_days``), ``F003`` unfreeze
  (``original_request_no``, and ``quantity`` to release only part), each with the court, case,
  debtor, ruling and notice numbers, credentials and ``served_at``. → ``0000`` with ``record``,
  the control record (status ``applied`` / ``partially_applied`` / ``queued`` / ``released``;
  held and requested in shares as ``held_quantity`` / ``requested_quantity`` and in fen at the
  holding's price), or ``3001`` with the record ``refused`` and its reason. A request number seen
  before is answered as the first time (``duplicate`` true).
- Control business is taken only in working hours (``simulators.trading_hours``): outside them the
  answer is ``2001`` 非工作时间 with ``next_submit_time``, the opening at which to submit again.
  Nothing is recorded against the request number, so the resubmission is processed as new.
- The depository queues (轮候) by its own submission time, the moment it took the request in working
  hours, not by the court's ``served_at``: a freeze refused outside them and submitted again comes
  after those the depository took before it.

HTTP-level faults (errors, throttling, hangs, garbage) come from ``faults`` like every kind's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field, RootModel

from schemas.assets import SecuritiesHolding, holding_id
from simulators.apps.common import (
    ID_TYPE_KIND,
    BatchBasis,
    SimContext,
    WireModel,
    holdings,
    institution,
    json_response,
    read_body,
)
from simulators.apps.faults import misbehave
from simulators.control_order import AssetRef, ControlOrder
from simulators.trading_hours import SHANGHAI, is_open, next_opening

OK, UNREGISTERED, OUTSIDE_HOURS, REFUSED = "0000", "1001", "2001", "3001"
MESSAGES = {OK: "处理成功", UNREGISTERED: "执行公务证未备案", OUTSIDE_HOURS: "非工作时间，请于下一工作时段提交",
            REFUSED: "业务拒绝"}
CONTROL_TYPES = {"F001": "freeze", "F002": "continue", "F003": "unfreeze"}
Shares = Annotated[int, Field(strict=True, gt=0)]


class QueryBody(BatchBasis):
    biz_code: Literal["Q001"]
    request_no: str = Field(min_length=1, max_length=128)


class ControlBody(WireModel):
    biz_code: Literal["F001", "F002", "F003"]
    request_no: str = Field(min_length=1, max_length=128, description="the court's request number; the depository dedupes on it")
    court: str = Field(min_length=1)
    case_number: str
    debtor_id_number: str
    account_no: str = Field(min_length=1, max_length=32)
    security_code: str = Field(pattern=r"^\d{6}$")
    quantity: Shares | None = Field(None, description="F001: shares to freeze; F003: shares to release (omit for all)")
    term_days: Shares | None = None
    original_request_no: str | None = Field(None, description="F002/F003: the freeze's request number")
    ruling_number: str
    notice_number: str
    officer_credentials: list[str]
    served_at: datetime


class BusinessRequest(RootModel[Annotated[QueryBody | ControlBody, Field(discriminator="biz_code")]]):
    """A business message: its ``biz_code`` says which shape the rest has."""


def _answer(ctx: SimContext, code: str, **fields: Any) -> web.Response:
    return json_response({"ret_code": code, "ret_msg": MESSAGES[code], "server_time": _shown(ctx.ledgers.clock.now()), **fields})


def _shown(at: datetime) -> str:
    return at.astimezone(SHANGHAI).isoformat()


async def business(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = (await read_body(request, BusinessRequest)).root
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    if isinstance(body, QueryBody):
        return _query(ctx, inst, body)
    return _control(ctx, inst, body)


def _query(ctx: SimContext, inst: str, body: QueryBody) -> web.Response:
    if not ctx.population.is_registered(body.officer_credentials):
        return _answer(ctx, UNREGISTERED, request_no=body.request_no)
    results = []
    for s in body.subjects:
        accounts: dict[str, list[dict[str, Any]]] = {}
        for h in holdings(ctx, inst, s.id_number, ID_TYPE_KIND[s.id_type]):
            if isinstance(h, SecuritiesHolding):
                accounts.setdefault(h.account_no, []).append(
                    {"security_code": h.security_code, "security_name": h.security_name, "quantity": h.quantity,
                     "price_fen": h.price_fen, "value_fen": h.value_fen})
        results.append({"request_id": s.request_id, "accounts": [{"account_no": a, "holdings": hs} for a, hs in accounts.items()]})
    trade_date = ctx.ledgers.clock.now().astimezone(SHANGHAI).date().isoformat()
    return _answer(ctx, OK, request_no=body.request_no, trade_date=trade_date, results=results)


def _control(ctx: SimContext, inst: str, body: ControlBody) -> web.Response:
    now = ctx.ledgers.clock.now()
    if not is_open(now):
        # Refused at the door: nothing is kept against the request number, so the same number
        # submitted again in working hours is processed as new.
        return _answer(ctx, OUTSIDE_HOURS, request_no=body.request_no, next_submit_time=_shown(next_opening(now)))
    order = ControlOrder(
        order_id=body.request_no, type=CONTROL_TYPES[body.biz_code], court=body.court, case_number=body.case_number,  # type: ignore[arg-type]
        asset=AssetRef(kind="securities", id=holding_id(body.account_no, body.security_code)),
        debtor_id_number=body.debtor_id_number, quantity=body.quantity, term_days=body.term_days,
        ruling_number=body.ruling_number, notice_number=body.notice_number, officer_credentials=body.officer_credentials,
        # Queued by the depository's own time of taking it (see the module's docstring).
        original_freeze_id=body.original_request_no, served_at=now,
    )
    record = ctx.ledgers.execute(inst, order)
    return _answer(ctx, REFUSED if record["status"] == "refused" else OK, request_no=body.request_no, record=record)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/csdc/v1/business", business)
