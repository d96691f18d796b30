"""New inquiries: a form for a few debtors, a CSV file for many; each followed by a live progress
bar (an htmx fragment polled until the work is done)."""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway.console.api import GatewayApi
from gateway.console.cases import case_path
from gateway.console.forms import FormError, refuse_form, yuan_field
from gateway.console.guard import form_text, page, see_other
from gateway.console.render import render
from gateway.console.sessions import Session

DEBTOR_ROWS = 5


@page
async def new_inquiry(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    return render(request, "inquiry_new.html", rows=range(DEBTOR_ROWS), case_number=request.query.get("case", ""))


@page
async def submit_inquiry(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    form = await request.post()
    try:
        due, costs = yuan_field(form, "amount_due", "执行标的"), yuan_field(form, "costs", "执行费用", optional=True)
    except FormError as exc:
        return refuse_form(request, exc)
    debtors = [{"kind": form_text(form, f"kind{i}") or "person", "id_number": form_text(form, f"id_number{i}"),
                "name": form_text(form, f"name{i}")} for i in range(DEBTOR_ROWS) if form_text(form, f"id_number{i}")]
    body = {"case_number": form_text(form, "case_number"), "court": session.officer.court, "amount_due_fen": due,
            "costs_fen": costs, "notice_number": form_text(form, "notice_number"),
            "officer_credentials": sorted(session.officer.credentials)[:1], "debtors": debtors}
    if applicant := form_text(form, "applicant"):
        body["applicant"] = applicant
    accepted = await api.post("/v1/inquiries", body)
    return see_other(f"/console/inquiries/{accepted['id']}")


@page
async def upload_batch(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    upload = (await request.post()).get("file")
    if not isinstance(upload, web.FileField):
        return refuse_form(request, FormError("file", "请选择一个 CSV 文件"))
    accepted = await api.post("/v1/inquiry-batches", data=upload.file.read(), content_type="text/csv")
    return see_other(f"/console/batches/{accepted['id']}")


@page
async def inquiry_page(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    inquiry_id = request.match_info["inquiry_id"]
    return render(request, "progress_page.html", title="查询进度", progress_url=f"/console/inquiries/{inquiry_id}/progress",
                  fragment=await _inquiry_progress(api, inquiry_id))


@page
async def inquiry_progress(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    return render(request, "progress.html", **await _inquiry_progress(api, request.match_info["inquiry_id"]))


async def _inquiry_progress(api: GatewayApi, inquiry_id: str) -> dict:
    inquiry = await api.get(f"/v1/inquiries/{inquiry_id}")
    p = inquiry["progress"]
    return {"done": p["legs_done"], "total": p["legs_total"], "finished": inquiry["status"] == "completed",
            "url": f"/console/inquiries/{inquiry_id}/progress", "case_url": case_path(inquiry["case"]["case_number"]),
            "export_url": None}


@page
async def batch_page(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    batch_id = request.match_info["batch_id"]
    return render(request, "progress_page.html", title="批量查询进度", progress_url=f"/console/batches/{batch_id}/progress",
                  fragment=await _batch_progress(api, batch_id))


@page
async def batch_progress(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    return render(request, "progress.html", **await _batch_progress(api, request.match_info["batch_id"]))


async def _batch_progress(api: GatewayApi, batch_id: str) -> dict:
    batch = await api.get(f"/v1/inquiry-batches/{batch_id}")
    finished = batch["status"] == "completed"
    return {"done": batch["legs"]["done"], "total": batch["legs"]["total"], "finished": finished,
            "url": f"/console/batches/{batch_id}/progress", "export_url": f"/console/batches/{batch_id}/export.xlsx",
            "case_url": case_path(await first_case(api, batch_id)) if finished else None}


async def first_case(api: GatewayApi, batch_id: str) -> str:
    """The case of the batch's first report (a batch of one case is the usual; the workspace links the rest)."""
    async with api.http.get(f"{api.base}/v1/inquiry-batches/{batch_id}/reports", headers=api.headers) as r:
        line = await r.content.readline()
    return orjson.loads(line)["case_number"]


def setup(app: web.Application) -> None:
    app.router.add_get("/console/inquiries/new", new_inquiry)
    app.router.add_post("/console/inquiries", submit_inquiry)
    app.router.add_post("/console/batches", upload_batch)
    app.router.add_get("/console/inquiries/{inquiry_id}", inquiry_page)
    app.router.add_get("/console/inquiries/{inquiry_id}/progress", inquiry_progress)
    app.router.add_get("/console/batches/{batch_id}", batch_page)
    app.router.add_get("/console/batches/{batch_id}/progress", batch_progress)
