"""The freeze plan (preview, what is skipped and why, execute after a confirmation), the court's
orders by case and state, an order's page with its whole audit trail and the follow-ups
(continue, unfreeze, deduct), and the deductions awaiting a second officer's approval."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from aiohttp import web

from gateway.console.api import GatewayApi
from gateway.console.cases import case_path
from gateway.console.forms import FormError, refuse_form, yuan_field
from gateway.console.guard import form_text, page, see_other
from gateway.console.render import ORDER_STATUSES, ORDER_TYPES, render
from gateway.console.sessions import Session
from schemas.orders import MONEY_KINDS

FOLLOW_UPS = ("continue", "unfreeze", "deduct")
HOLDING = ("applied", "partially_applied", "queued")  # a freeze that still holds (or waits to)


def _documents(form: object, session: Session) -> dict:
    return {"ruling_number": form_text(form, "ruling_number"), "notice_number": form_text(form, "notice_number"),
            "officer_credentials": sorted(session.officer.credentials)[:1]}


@page
async def plan_form(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    return render(request, "plan.html", case_number=request.match_info["case_number"], plan=None, documents=None)


@page
async def plan_preview(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    case_number = request.match_info["case_number"]
    documents = _documents(await request.post(), session)
    plan = await api.post(f"/v1/cases/{quote(case_number, safe='')}/freeze-plan", {**documents, "court": session.officer.court})
    return render(request, "plan.html", case_number=case_number, plan=plan, documents=documents,
                  idempotency_key=f"console-plan-{secrets.token_hex(8)}")


@page
async def plan_execute(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    case_number = request.match_info["case_number"]
    form = await request.post()
    if form_text(form, "confirm") != "yes":
        return refuse_form(request, FormError("confirm", "执行前请勾选确认：冻结将发往各机构。"))
    await api.post(f"/v1/cases/{quote(case_number, safe='')}/freeze-plan",
                   {**_documents(form, session), "court": session.officer.court, "execute": True,
                    "idempotency_key": form_text(form, "idempotency_key")})
    return see_other(f"/console/orders?case_number={quote(case_number, safe='')}")


@page
async def orders(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    q = request.query
    listed = await api.get("/v1/orders", case_number=q.get("case_number"), status=q.get("status"), type=q.get("type"),
                           awaiting_approval=q.get("awaiting_approval"), limit=500, cursor=q.get("cursor"))
    return render(request, "orders.html", orders=listed["orders"], next_cursor=listed["next_cursor"], query=dict(q),
                  statuses=ORDER_STATUSES, types=ORDER_TYPES, approvals=False)


@page
async def approvals(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    listed = await api.get("/v1/orders", awaiting_approval="true", limit=500)
    return render(request, "orders.html", orders=listed["orders"], next_cursor=None, query={}, statuses=ORDER_STATUSES,
                  types=ORDER_TYPES, approvals=True)


@page
async def order(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    shown = await api.get(f"/v1/orders/{request.match_info['order_id']}")
    holding = shown["type"] == "freeze" and shown["status"] in HOLDING
    case = await api.get(f"/v1/cases/{quote(shown['case_number'], safe='')}")
    return render(request, "order.html", order=shown, case=case, case_url=case_path(shown["case_number"]),
                  follow_ups=[t for t in FOLLOW_UPS if holding and (t != "deduct" or shown["asset"]["kind"] in MONEY_KINDS)],
                  may_approve=shown["awaiting_approval"] and session.officer.may("deduct") and shown["operator"] != session.officer.id,
                  idempotency_key=f"console-{secrets.token_hex(8)}")


@page
async def follow_up(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    kind = request.match_info["type"]
    if kind not in FOLLOW_UPS:
        raise web.HTTPNotFound()
    original = await api.get(f"/v1/orders/{request.match_info['order_id']}")
    form = await request.post()
    body = {"type": kind, "case_number": original["case_number"], "court": original["court"],
            "institution_id": original["institution_id"], "asset": original["asset"], "original_order_id": original["id"],
            "idempotency_key": form_text(form, "idempotency_key"), **_documents(form, session)}
    try:
        if kind == "continue":
            body["term_days"] = int(form_text(form, "term_days") or 0)
        if kind == "unfreeze" and form_text(form, "quantity"):
            body["quantity"] = int(form_text(form, "quantity"))  # securities: release part of the shares
        if kind in ("continue", "deduct") and original["asset"]["kind"] in MONEY_KINDS and form_text(form, "amount"):
            body["amount_fen"] = yuan_field(form, "amount", "金额")
    except FormError as exc:
        return refuse_form(request, exc)
    except ValueError:
        return refuse_form(request, FormError("quantity" if kind == "unfreeze" else "term_days",
                                              "解冻股数须为整数" if kind == "unfreeze" else "续冻天数须为整数"))
    if kind == "deduct":
        body["enforcement_account"] = (await api.get(f"/v1/cases/{quote(original['case_number'], safe='')}"))["enforcement_account"]
    placed = await api.post("/v1/orders", body)
    return see_other(f"/console/orders/{placed['id']}")


@page
async def approve(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    order_id = request.match_info["order_id"]
    await api.post(f"/v1/orders/{order_id}/approve", {})
    return see_other(f"/console/orders/{order_id}")


@page
async def decline(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    order_id = request.match_info["order_id"]
    # The API checks the reason (422 naming it), as it does for every client.
    await api.post(f"/v1/orders/{order_id}/decline", {"reason": form_text(await request.post(), "reason")})
    return see_other(f"/console/orders/{order_id}")


def setup(app: web.Application) -> None:
    app.router.add_get("/console/cases/{case_number}/plan", plan_form)
    app.router.add_post("/console/cases/{case_number}/plan", plan_preview)
    app.router.add_post("/console/cases/{case_number}/plan/execute", plan_execute)
    app.router.add_get("/console/orders", orders)
    app.router.add_get("/console/approvals", approvals)
    app.router.add_get("/console/orders/{order_id}", order)
    app.router.add_post("/console/orders/{order_id}/approve", approve)
    app.router.add_post("/console/orders/{order_id}/decline", decline)
    app.router.add_post("/console/orders/{order_id}/{type}", follow_up)
