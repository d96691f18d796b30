"""Bank: synchronous JSON inquiry, one debtor per call (the common 点对点 bank interface).

``POST /{inst}/api/v1/deposit-inquiries`` → 200 with the debtor's accounts, 403 refused,
400 bad body; injected faults as in ``faults``.
"""

from __future__ import annotations

from aiohttp import web

from schemas.assets import DepositAccount
from simulators.apps.common import (
    ID_TYPE_KIND,
    REFUSAL_UNREGISTERED,
    InquiryBody,
    holdings,
    institution,
    json_response,
    read_body,
)
from simulators.apps.faults import misbehave


async def deposit_inquiry(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, InquiryBody)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    if not ctx.population.is_registered(body.officer_credentials):
        return json_response({"error": "refused", "reason": REFUSAL_UNREGISTERED}, status=403)
    accounts = [a for a in holdings(ctx, inst, body.subject.id_number, ID_TYPE_KIND[body.subject.id_type])
                if isinstance(a, DepositAccount)]
    return json_response({
        "request_id": body.request_id,
        "customer_found": bool(accounts),
        "accounts": [_account(a, body.subject.id_number) for a in accounts],
    })


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
