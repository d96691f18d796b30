"""HTTP routes for control orders and freeze plans."""

from __future__ import annotations

from typing import get_args

import structlog
from aiohttp import web

from gateway.http.access import officer_of, require_case, require_credentials, require_role, require_self
from gateway.http.errors import ApiError
from gateway.http.io import case_number_param, json_response, read_model
from gateway.http.keys import DESK, STORE
from gateway.http.listing import bad, choice_param, cursor_param, flag_param, limit_param
from gateway.http.routes.watches import case_number_query
from gateway.orders.desk import OrderDesk, OrderRejected, order_summary, order_view
from gateway.store.records import OrderFilter
from infra import metrics
from schemas.orders import DEDUCTING, Approval, Decline, FreezePlanRequest, OrderCreate, OrderStatus, OrderType

log = structlog.get_logger("orders")

def rejected(exc: OrderRejected) -> ApiError:
    code = {404: "not_found", 409: "conflict"}.get(exc.status, "validation_failed")
    return ApiError(exc.status, code, f"{exc.field}: {exc.message}", [{"field": exc.field, "message": exc.message}])


def _view(desk: OrderDesk, order_id: str) -> dict:
    return order_view(*desk.with_history(order_id))


async def create_order(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    body = await read_model(request, OrderCreate)
    require_case(request, body.case_number, court=body.court)
    require_credentials(request, body.officer_credentials)
    if body.type in DEDUCTING:
        require_role(request, "deduct")
    body = body.model_copy(update={"operator": require_self(request, body.operator, "operator")})
    try:
        order, replayed = desk.place(body)
    except OrderRejected as exc:
        raise rejected(exc) from None
    location = f"/v1/orders/{order.id}"
    if not replayed:
        metrics.ACCEPTED.labels("order").inc()  # the desk logs the order, as for those a plan or watch places
    return json_response({**_view(desk, order.id), "replayed": replayed}, status=200 if replayed else 202,
                         headers={"Location": location})


async def list_orders(request: web.Request) -> web.Response:
    """The officer's court's orders, newest first, filtered: e.g. the deductions awaiting a second
    officer (``awaiting_approval=true``), so the checker need not be told order ids by hand."""
    where = OrderFilter(case_number=case_number_query(request),  # another court's case: 403
                        status=choice_param(request, "status", get_args(OrderStatus)),
                        type=choice_param(request, "type", get_args(OrderType)),
                        awaiting_approval=flag_param(request, "awaiting_approval"))
    try:
        page = request.app[STORE].orders.of_court(officer_of(request).court, where, limit_param(request), cursor_param(request))
    except ValueError as exc:
        raise bad("cursor", str(exc)) from None
    return json_response({"orders": [order_summary(o) for o in page.items], "next_cursor": page.next_cursor})


async def get_order(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    try:
        order = desk.get(request.match_info["order_id"])
    except OrderRejected as exc:
        raise rejected(exc) from None
    require_case(request, order.case_number, case_field="order_id")
    return json_response(_view(desk, order.id))


def _deduction_for_second_officer(request: web.Request) -> tuple[OrderDesk, str]:
    """The order a second officer approves or declines: of his own court's case, and only an
    officer who may deduct may do either."""
    desk = request.app[DESK]
    order_id = request.match_info["order_id"]
    try:
        order = desk.get(order_id)
    except OrderRejected as exc:
        raise rejected(exc) from None
    require_case(request, order.case_number, case_field="order_id")
    require_role(request, "deduct")
    return desk, order_id


async def approve_order(request: web.Request) -> web.Response:
    desk, order_id = _deduction_for_second_officer(request)
    approval = await read_model(request, Approval) if request.can_read_body else Approval()
    checker = require_self(request, approval.checker, "checker")
    try:
        desk.approve(order_id, Approval(checker=checker))
    except OrderRejected as exc:
        raise rejected(exc) from None
    log.info("deduction approved", order_id=order_id)
    return json_response(_view(desk, order_id))


async def decline_order(request: web.Request) -> web.Response:
    desk, order_id = _deduction_for_second_officer(request)
    body = await read_model(request, Decline)
    try:
        desk.decline(order_id, body.model_copy(update={"checker": require_self(request, body.checker, "checker")}))
    except OrderRejected as exc:
        raise rejected(exc) from None
    return json_response(_view(desk, order_id))


async def freeze_plan(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    body = await read_model(request, FreezePlanRequest)
    case_number = case_number_param(request)
    require_case(request, case_number, court=body.court)
    require_credentials(request, body.officer_credentials)
    body = body.model_copy(update={"operator": require_self(request, body.operator, "operator")})
    try:
        plan = desk.plan(case_number, body)
    except OrderRejected as exc:
        raise rejected(exc) from None
    return json_response(plan, status=202 if plan.get("executed") and not plan.get("replayed") else 200)


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/orders", create_order)
    app.router.add_get("/v1/orders", list_orders)
    app.router.add_get("/v1/orders/{order_id}", get_order)
    app.router.add_post("/v1/orders/{order_id}/approve", approve_order)
    app.router.add_post("/v1/orders/{order_id}/decline", decline_order)
    app.router.add_post("/v1/cases/{case_number}/freeze-plan", freeze_plan)
