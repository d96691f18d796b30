"""The market regulator's enterprise registry (市场监督管理局): paged JSON, as open data platforms.

A search is created, then read page by page:

- ``POST /{inst}/v2/shareholder-searches`` with the batch body of the 总对总 interface (case,
  court, notice, credentials, up to 500 ``subjects``) → 201 ``{"search_id", "total_rows",
  "page_size", "pages"}``; 403 when the credentials are not registered. The search covers every
  subject at once; one latency sample per search.
- ``GET /{inst}/v2/shareholder-searches/{search_id}?page=N`` (1-based) → ``{"search_id", "page",
  "pages", "total_rows", "rows": [{"request_id", "holding_no", "company_name", "company_uscc",
  "registered_capital_fen", "subscribed_fen", "holding_bp", "value_fen"}]}``: one row per
  shareholding, subjects in request order. A subject with no row holds no equity here. 404 for a
  search that was forgotten (the registry keeps its last 10,000) or never made.

Freezes of a shareholding (``POST /{inst}/controls``, the common control request) freeze it
whole, queue further ones (轮候), continue and unfreeze like any property; the regulator
publicises each freeze in effect: ``GET /{inst}/v2/publicity/{company_uscc}`` lists the freezes
on shares of that company (court, case, holding, dates) as its public notice board does.
"""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from typing import Any

from aiohttp import web

from schemas.assets import Shareholding
from simulators.apps.common import (
    ID_TYPE_KIND,
    REFUSAL_UNREGISTERED,
    BatchInquiryBody,
    SimContext,
    holdings,
    http_error,
    institution,
    json_response,
    read_body,
)
from simulators.apps.faults import misbehave

PAGE_SIZE = 50
MAX_SEARCHES = 10_000  # oldest forgotten first: a search is read within seconds of its making


class Searches:
    """Made searches' rows by (registry, search id), oldest forgotten first."""

    def __init__(self) -> None:
        self.rows: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()

    def add(self, inst: str, rows: list[dict[str, Any]]) -> str:
        while len(self.rows) >= MAX_SEARCHES:
            self.rows.popitem(last=False)
        search_id = uuid.uuid4().hex
        self.rows[(inst, search_id)] = rows
        return search_id


SEARCHES = web.AppKey("equity_searches", Searches)


async def create_search(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, BatchInquiryBody)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    if not ctx.population.is_registered(body.officer_credentials):
        return json_response({"error": "refused", "reason": REFUSAL_UNREGISTERED}, status=403)
    rows = [{"request_id": s.request_id, **_row(h)} for s in body.subjects
            for h in holdings(ctx, inst, s.id_number, ID_TYPE_KIND[s.id_type]) if isinstance(h, Shareholding)]
    search_id = request.app[SEARCHES].add(inst, rows)
    return json_response({"search_id": search_id, "total_rows": len(rows), "page_size": PAGE_SIZE, "pages": _pages(rows)}, status=201)


async def read_page(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    if (fault := await misbehave(request, ctx, inst, latency=False)) is not None:
        return fault
    search_id = request.match_info["search_id"]
    rows = request.app[SEARCHES].rows.get((inst, search_id))
    if rows is None:
        raise http_error(web.HTTPNotFound, "unknown_search", "no such search at this registry (expired or never made)")
    page_text = request.query.get("page", "1")
    if not page_text.isdigit() or not 1 <= int(page_text) <= _pages(rows):
        raise http_error(web.HTTPBadRequest, "bad_request", f"page: a number from 1 to {_pages(rows)}")
    page = int(page_text)
    return json_response({"search_id": search_id, "page": page, "pages": _pages(rows), "total_rows": len(rows),
                          "rows": rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]})


async def publicity(request: web.Request) -> web.Response:
    """The freezes in effect on shares of one company, as the regulator publishes them."""
    ctx, inst = institution(request)
    company = request.match_info["company_uscc"]
    notices = []
    for holder in ctx.population.holders_at(inst):
        for h in ctx.population.assets_at(inst, holder):
            if isinstance(h, Shareholding) and h.company_uscc == company and (ledger := _existing_ledger(ctx, inst, h.holding_no)):
                notices += [{"holding_no": h.holding_no, "holding_bp": h.holding_bp, "court": f["court"], "case_number": f["case_number"],
                             "status": f["status"], "start_date": f["start_date"], "end_date": f["end_date"]}
                            for f in ledger["freezes"] if f["status"] in ("applied", "queued")]
    return json_response({"company_uscc": company, "freezes": notices})


def _existing_ledger(ctx: SimContext, inst: str, holding_no: str) -> dict[str, Any] | None:
    ledger = ctx.ledgers.ledger(inst, holding_no)
    return ledger.view() if ledger is not None and ledger.freezes else None


def _pages(rows: list[dict[str, Any]]) -> int:
    return max(1, math.ceil(len(rows) / PAGE_SIZE))


def _row(h: Shareholding) -> dict[str, Any]:
    return {"holding_no": h.holding_no, "company_name": h.company_name, "company_uscc": h.company_uscc,
            "registered_capital_fen": h.registered_capital_fen, "subscribed_fen": h.subscribed_fen,
            "holding_bp": h.holding_bp, "value_fen": h.value_fen}


def add_routes(app: web.Application) -> None:
    app[SEARCHES] = Searches()
    app.router.add_post("/{inst}/v2/shareholder-searches", create_search)
    app.router.add_get("/{inst}/v2/shareholder-searches/{search_id}", read_page)
    app.router.add_get("/{inst}/v2/publicity/{company_uscc}", publicity)
