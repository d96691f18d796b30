"""Bank: synchronous JSON inquiry, one debtor per call (the common 点对点 bank interface) or up to
500 per call (the 总对总 batch interface).

``POST /{inst}/api/v1/deposit-inquiries`` → 200 with the debtor's accounts, 403 refused,
400 bad body; injected faults as in ``faults``.

``POST /{inst}/api/v1/deposit-inquiry-batches`` → 200 ``{"batch_id", "results": [{"request_id",
"customer_found", "accounts"}]}``, one result per subject in request order. Case, notice and
credentials belong to the batch, so an unregistered credential refuses the whole call (403, as the
single endpoint). One latency sample and one fault draw per batch: the bank answers it as a whole.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from schemas.assets import DepositAccount
from simulators.apps.common import (
    ID_TYPE_KIND,
    REFUSAL_UNREGISTERED,
    BatchInquiryBody,
    InquiryBody,
    SimContext,
    holdings,
    institution,
    json_response,
    read_body,
)
from simulators.apps.faults import misbehave

REFUSED = {"error": "refused", "reason": REFUSAL_UNREGISTERED}


def _refused() -> web.Response:
    return json_response(REFUSED, status=403)


async def deposit_inquiry(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, InquiryBody)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    if not ctx.population.is_registered(body.officer_credentials):
        return _refused()
    return json_response({"request_id": body.request_id, **_lookup(ctx, inst, body.subject.id_type, body.subject.id_number)})


async def deposit_inquiry_batch(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, BatchInquiryBody)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    return json_response(*answer_batch(ctx, inst, body))


def answer_batch(ctx: SimContext, inst: str, body: BatchInquiryBody) -> tuple[dict[str, Any], int]:
    """The batch's answer and its status, whichever way the bank talks (HTTP, or files: apps.bank_files)."""
    if not ctx.population.is_registered(body.officer_credentials):
        return REFUSED, 403
    return {
        "batch_id": body.batch_id,
        "results": [{"request_id": s.request_id, **_lookup(ctx, inst, s.id_type, s.id_number)} for s in body.subjects],
    }, 200


def _lookup(ctx: SimContext, inst: str, id_type: str, id_number: str) -> dict[str, Any]:
    """One subject's answer: whether the bank knows the customer, and the accounts."""
    accounts = [_account(a, id_number) for a in holdings(ctx, inst, id_number, ID_TYPE_KIND[id_type])
                if isinstance(a, DepositAccount)]
    return {"customer_found": bool(accounts), "accounts": accounts}


def _account(a: DepositAccount, holder: str) -> dict[str, object]:
    return {
        "account_no": a.account_no,
        "account_type": a.account_type,
        "currency": a.currency,
        "balance_fen": a.value_fen,
        "holders": [holder, *a.co_owners],
        "protected": a.protected,
        "protected_reason": a.protected_reason,
    }


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/api/v1/deposit-inquiries", deposit_inquiry)
    app.router.add_post("/{inst}/api/v1/deposit-inquiry-batches", deposit_inquiry_batch)
