"""A case's 查控报告 to print (the page's print stylesheet makes the paper copy), and the Excel
export of a case's or a batch's reports: one row per asset found, one per debtor, ids whole."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web
from openpyxl import Workbook

from gateway.console.api import GatewayApi
from gateway.console.guard import page
from gateway.console.render import KINDS, LEG_STATUSES, render
from gateway.console.sessions import Session
from infra.clock import now_ms, shown
from schemas.assets import asset_id, attributable_fen
from schemas.money import yuan

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ASSET_COLUMNS = ("案号", "被执行人", "证件号码", "资产类别", "机构", "资产编号", "份额%", "价值（分）", "价值", "控制状态")
DEBTOR_COLUMNS = ("案号", "被执行人", "证件号码", "查询完成", "有财产机构", "未答复机构", "财产合计（分）", "财产合计")


async def _case(api: GatewayApi, case_number: str) -> tuple[dict, list[dict]]:
    path = f"/v1/cases/{quote(case_number, safe='')}"
    return await api.get(path), (await api.get(f"{path}/reports"))["reports"]


@page
async def printable(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    case, reports = await _case(api, request.match_info["case_number"])
    reports.sort(key=lambda r: -r["totals_fen"].get("all", 0))
    holding = [r for r in reports if any(r["assets"].values())]
    nothing = [r for r in reports if not any(r["assets"].values())]  # one line each, not a page each
    return render(request, "report.html", case=case, holding=holding, nothing=nothing, printed_at=shown(now_ms()))


@page
async def case_xlsx(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    case_number = request.match_info["case_number"]
    _, reports = await _case(api, case_number)
    return _download(workbook({**r, "case_number": case_number} for r in reports), f"case-{case_number}.xlsx")


@page
async def batch_xlsx(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    batch_id = request.match_info["batch_id"]
    async with api.http.get(f"{api.base}/v1/inquiry-batches/{batch_id}/reports", headers=api.headers) as r:
        if r.status >= 400:
            raise web.HTTPNotFound()
        reports = [orjson.loads(line) async for line in r.content if line.strip()]
    return _download(workbook(reports), f"batch-{batch_id}.xlsx")


def workbook(reports: Iterable[dict[str, Any]]) -> bytes:
    book = Workbook()
    assets = book.active
    assets.title = "财产 Assets"
    debtors = book.create_sheet("被执行人 Debtors")
    assets.append(ASSET_COLUMNS)
    debtors.append(DEBTOR_COLUMNS)
    for r in reports:
        d = r["debtor"]
        for kind, found in r["assets"].items():
            for a in found:
                assets.append((r["case_number"], d["name"], d["id_number"], KINDS.get(kind, kind), a["institution_id"], asset_id(a),
                               a.get("share_percent", 100), attributable_fen(a), yuan(attributable_fen(a)), _control(a)))
        answered = [leg["institution_id"] for leg in r["legs"] if leg["status"] == "found"]
        silent = [f"{leg['institution_id']}（{LEG_STATUSES.get(leg['status'], leg['status'])}）" for leg in r["legs"]
                  if leg["status"] not in ("found", "not_found")]
        total = r["totals_fen"].get("all", 0)
        debtors.append((r["case_number"], d["name"], d["id_number"], f"{r['legs_done']}/{r['legs_total']}", "、".join(answered),
                        "、".join(silent), total, yuan(total)))
    for sheet in (assets, debtors):  # ids and numbers whole: wide enough columns, ids as text
        for column in sheet.columns:
            sheet.column_dimensions[column[0].column_letter].width = min(48, max(10, *(len(str(c.value or "")) + 2 for c in column)))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _control(asset: dict[str, Any]) -> str:
    return "；".join(f"{c['court']} {c['status']} {yuan(c['held_fen']) if c.get('held_fen') else ''}".strip()
                    for c in asset.get("control", [])) or "未控制"


def _download(body: bytes, name: str) -> web.Response:
    return web.Response(body=body, content_type=XLSX,
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"})


def setup(app: web.Application) -> None:
    app.router.add_get("/console/cases/{case_number}/report", printable)
    app.router.add_get("/console/cases/{case_number}/export.xlsx", case_xlsx)
    app.router.add_get("/console/batches/{batch_id}/export.xlsx", batch_xlsx)
