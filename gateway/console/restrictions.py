"""Consumption restrictions from the case workspace: 限制高消费 (or 纳入失信被执行人名单) on a debtor
at every airline and the railway, and 解除限制 — each one form posted to the same JSON API as
every client (``/v1/restrictions``, ``/v1/restrictions/lift``), which checks it and names the
field at fault; the officer lands on the case's orders, one per carrier."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from gateway.console.api import GatewayApi
from gateway.console.guard import form_text, page, see_other
from gateway.console.sessions import Session


@page
async def restrict(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    case_number = request.match_info["case_number"]
    form = await request.post()
    lift = request.path.endswith("/lift")
    body = {"case_number": case_number, "court": session.officer.court, "debtor_id_number": form_text(form, "debtor_id_number"),
            "decision_number": form_text(form, "decision_number"), "notice_number": form_text(form, "notice_number"),
            "officer_credentials": sorted(session.officer.credentials)[:1], "idempotency_key": form_text(form, "idempotency_key")}
    if not lift:
        body["measure"] = form_text(form, "measure")
    await api.post("/v1/restrictions/lift" if lift else "/v1/restrictions", body)
    return see_other(f"/console/orders?case_number={quote(case_number, safe='')}")


def setup(app: web.Application) -> None:
    app.router.add_post("/console/cases/{case_number}/restrictions", restrict)
    app.router.add_post("/console/cases/{case_number}/restrictions/lift", restrict)
