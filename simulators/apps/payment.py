"""Payment app: open-platform gateway style (like Alipay / WeChat Pay open APIs).

``POST /{inst}/gateway`` answers HTTP 200 bar an unknown institution (404), an unsigned request
(401), throttling (429) and outages (503); the outcome is ``code`` in the body: 10000 success,
20000 service unavailable (retryable), 40001 unknown method, 40002 invalid arguments, 40003
refused, 40004 user not found.

Methods: ``court.wallet.query`` (find a debtor's wallets), ``court.wallet.batch_query`` (up to
500 debtors of one case: ``biz_content.subjects`` of ``request_id``, ``cert_type``, ``cert_no``,
``name``; ``data.results`` holds one ``{"request_id", "code", "wallets"}`` per subject in request
order, ``code`` 10000 or 40004; the legal basis is the batch's, so 40003 refuses the whole call,
and one latency sample or fault answers the whole call) and ``court.wallet.control`` (a control
order as ``biz_content``; ``data`` is the control record, whose refusals are still code 10000:
the platform answered, the answer is no) and ``court.wallet.control_status`` (``biz_content``
``{"freeze_ids", "asset_ids"}``; ``data`` as ``POST /{inst}/controls/status`` answers, which the
app serves too: reconciliation is one interface across the network).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field

from schemas.assets import PaymentWallet
from simulators.apps.common import (
    REFUSAL_UNREGISTERED,
    BodyInvalid,
    DebtorKind,
    SimContext,
    WireModel,
    holdings,
    institution,
    json_response,
    read_json,
    validate,
)
from simulators.apps.control_status import StatusBody
from simulators.apps.faults import misbehave
from simulators.control_order import ControlOrder
from simulators.control_status import status_report

METHOD = "court.wallet.query"
BATCH_METHOD = "court.wallet.batch_query"
CONTROL_METHOD = "court.wallet.control"
STATUS_METHOD = "court.wallet.control_status"
MAX_BATCH_SUBJECTS = 500
M = TypeVar("M", bound=BaseModel)
CERT_KIND: dict[str, DebtorKind] = {"ID_CARD": "person", "USCC": "organisation"}


class Envelope(WireModel):
    method: str
    request_id: str
    timestamp: str
    biz_content: dict[str, Any]


class LegalBasis(WireModel):
    case_number: str
    court: str
    notice_number: str
    officer_credentials: list[str]


class Cert(WireModel):
    cert_type: Literal["ID_CARD", "USCC"]
    cert_no: str
    name: str


class BizContent(LegalBasis, Cert):
    """``court.wallet.query``: one debtor."""


class BatchSubject(Cert):
    request_id: str = Field(min_length=1, max_length=128)


class BatchBizContent(LegalBasis):
    """``court.wallet.batch_query``: many debtors of one case."""

    subjects: list[BatchSubject] = Field(min_length=1, max_length=MAX_BATCH_SUBJECTS)


def _answer(code: str, msg: str, sub_msg: str | None = None, data: Any = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if sub_msg is not None:
        body["sub_msg"] = sub_msg
    if data is not None:
        body["data"] = data
    return json_response(body)


async def gateway(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    try:
        envelope = validate(Envelope, await read_json(request))
    except ValueError as exc:
        return _answer("40002", "Invalid Arguments", str(exc))
    method = METHODS.get(envelope.method)
    if method is None:
        return _answer("40001", "Invalid Method", f"unknown method {envelope.method!r}")
    return await method(request, ctx, inst, envelope.biz_content)


async def _query(request: web.Request, ctx: SimContext, inst: str, biz_content: dict[str, Any]) -> web.Response:
    biz, refusal = await _read(request, ctx, inst, BizContent, biz_content)
    if refusal is not None:
        return refusal
    if not ctx.population.is_registered(biz.officer_credentials):
        return _refused()
    wallets = _wallets(ctx, inst, biz.cert_type, biz.cert_no)
    if not wallets:
        return _answer("40004", "user not found")
    return _answer("10000", "Success", data={"wallets": wallets})


async def _batch_query(request: web.Request, ctx: SimContext, inst: str, biz_content: dict[str, Any]) -> web.Response:
    biz, refusal = await _read(request, ctx, inst, BatchBizContent, biz_content)
    if refusal is not None:
        return refusal
    if not ctx.population.is_registered(biz.officer_credentials):
        return _refused()
    results = []
    for s in biz.subjects:
        wallets = _wallets(ctx, inst, s.cert_type, s.cert_no)
        results.append({"request_id": s.request_id, "code": "10000" if wallets else "40004", "wallets": wallets})
    return _answer("10000", "Success", data={"results": results})


def _wallets(ctx: SimContext, inst: str, cert_type: str, cert_no: str) -> list[dict[str, Any]]:
    """One debtor's wallets at the app, as the wire has them."""
    return [{"wallet_id": w.wallet_id, "balance_fen": w.value_fen}
            for w in holdings(ctx, inst, cert_no, CERT_KIND[cert_type]) if isinstance(w, PaymentWallet)]


async def _read(request: web.Request, ctx: SimContext, inst: str, model: type[M], biz_content: dict[str, Any]) -> tuple[M, web.Response | None]:
    """``biz_content`` as ``model``, and whether an injected fault answers instead; a body that
    does not fit is answered 40002 (then the model is not made: the caller returns the answer)."""
    try:
        biz = validate(model, biz_content)
    except BodyInvalid as exc:
        within = BodyInvalid([{**p, "field": f"biz_content.{p['field']}" if p["field"] else "biz_content"} for p in exc.problems])
        return None, _answer("40002", "Invalid Arguments", str(within))  # type: ignore[return-value]
    return biz, await misbehave(request, ctx, inst, error=_unavailable)


def _refused() -> web.Response:
    return _answer("40003", "refused", REFUSAL_UNREGISTERED)


async def _control(request: web.Request, ctx: SimContext, inst: str, biz_content: dict[str, Any]) -> web.Response:
    # Before the ledger: an injected fault changes nothing.
    order, refusal = await _read(request, ctx, inst, ControlOrder, biz_content)
    if refusal is not None:
        return refusal
    return _answer("10000", "Success", data=ctx.ledgers.execute(inst, order))


async def _control_status(request: web.Request, ctx: SimContext, inst: str, biz_content: dict[str, Any]) -> web.Response:
    body, refusal = await _read(request, ctx, inst, StatusBody, biz_content)
    if refusal is not None:
        return refusal
    return _answer("10000", "Success", data=status_report(ctx.ledgers, inst, body.freeze_ids, body.asset_ids))


def _unavailable(ctx: SimContext, inst: str) -> web.Response:
    return _answer("20000", "service unavailable", "系统繁忙，请稍后重试")


METHODS: dict[str, Callable[[web.Request, SimContext, str, dict[str, Any]], Awaitable[web.Response]]] = {
    METHOD: _query,
    BATCH_METHOD: _batch_query,
    CONTROL_METHOD: _control,
    STATUS_METHOD: _control_status,
}


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/gateway", gateway)
