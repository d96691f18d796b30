"""The institution-side contract: one OpenAPI 3.1 document per institution kind, built from the
same pydantic models the simulators validate requests with, so the document cannot drift from
what they accept. Served unsigned at ``GET /openapi.json`` by each kind's app and exported to
``docs/partners/openapi/{kind}.json`` (``python -m simulators.openapi``; a test fails while an
exported file is stale, and another while a partner route is missing from the document).

A partner's team implementing, say, a bank reads ``bank.json``: every path, body and field with
its allowed values, the answers, and the four signature headers (docs/partners.md#signing).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, get_args

import orjson
from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.assets import DepositAccount
from schemas.events import InstitutionEvent
from schemas.signing import HEADER_KEY_ID, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP
from simulators.apps import APIS, CONTROLS_ROUTE, STATUS_ROUTE
from simulators.apps.airline import PassengerRestriction
from simulators.apps.common import BatchInquiryBody, InquiryBody
from simulators.apps.control_status import StatusBody
from simulators.apps.court import Letter, PartySearch
from simulators.apps.event_feed import MAX_LIMIT, MAX_WAIT_S
from simulators.apps.fund import BODIES as FUND_BODIES
from simulators.apps.fund import Envelope as FundEnvelope
from simulators.apps.payment import (
    BATCH_METHOD,
    CONTROL_METHOD,
    METHOD,
    STATUS_METHOD,
    BatchBizContent,
    BizContent,
    Envelope,
)
from simulators.apps.railway import CourtRestriction
from simulators.apps.securities import BusinessRequest
from simulators.apps.vehicle import BatchBody
from simulators.control_order import ControlOrder

OUT = Path(__file__).resolve().parent.parent / "docs" / "partners" / "openapi"
PATH = "/openapi.json"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # under /{inst}
    summary: str
    body: type[BaseModel] | None = None
    ok: tuple[int, str] = (200, "the answer")
    query: tuple[dict[str, Any], ...] = ()
    errors: tuple[int, ...] = (400, 401, 403, 404, 429, 503)
    extra: dict[str, Any] = field(default_factory=dict)


def _query(name: str, description: str, low: int | float, high: int | float, integer: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "integer" if integer else "number", "minimum": low, "maximum": high}}


EVENTS = Operation(
    "get", "/events", "the institution's event feed, oldest first, long-polled by cursor",
    ok=(200, '{"events": [InstitutionEvent, ...], "next": SEQ}: keep next and ask again with after=next'),
    query=(_query("after", "the cursor: events after this feed position (default 0)", 0, 10**12),
           _query("limit", f"at most this many events (default 100, at most {MAX_LIMIT})", 1, MAX_LIMIT),
           _query("wait", f"seconds to wait for news when there is none (0-{MAX_WAIT_S}; a long poll)", 0, MAX_WAIT_S, False)),
    errors=(400, 401, 404, 429, 503),
    extra={"x-event-schema": {"$ref": "#/components/schemas/InstitutionEvent"}},
)
CONTROLS = Operation(
    "post", "/controls", "a control order (freeze, continue, unfreeze, deduct): the control record",
    ControlOrder, (200, "the control record; a refusal is a business answer (status refused), not an HTTP error"),
    errors=(400, 401, 404, 429, 503),
)
STATUS = Operation(
    "post", "/controls/status", "reconciliation: the state of the named freezes and the balances of the named assets",
    StatusBody, (200, '{"as_of_seq", "freezes", "unknown_freeze_ids", "balances", "unknown_asset_ids"}'),
    errors=(400, 401, 404, 429, 503),
)
ACCOUNT = ('ACCOUNT = {"account_no", "account_type", "currency" (CNY), "balance_fen" (integer fen), "holders" (id numbers), '
           '"protected" (bool), "protected_reason"}; account_type one of '
           + ", ".join(get_args(DepositAccount.model_fields["account_type"].annotation)))
PAYMENT_METHODS: dict[str, tuple[type[BaseModel], str]] = {
    METHOD: (BizContent, "one debtor's wallets: data.wallets; code 40004 when the app has no such user"),
    BATCH_METHOD: (BatchBizContent, "many debtors of one case: data.results, one {request_id, code, wallets} per subject"),
    CONTROL_METHOD: (ControlOrder, "a control order: data is the control record"),
    STATUS_METHOD: (StatusBody, "reconciliation: data as POST /{inst}/controls/status answers"),
}
OPERATIONS: dict[str, tuple[Operation, ...]] = {
    "bank": (
        Operation("post", "/api/v1/deposit-inquiries", "one debtor's deposit accounts (点对点)", InquiryBody,
                  (200, '{"request_id", "customer_found", "accounts": [ACCOUNT]}; ' + ACCOUNT)),
        Operation("post", "/api/v1/deposit-inquiry-batches", "up to 500 debtors of one case (总对总)", BatchInquiryBody,
                  (200, '{"batch_id", "results": [{"request_id", "customer_found", "accounts": [ACCOUNT]}]}, in request order; '
                        + ACCOUNT)),
    ),
    "land": (
        Operation("post", "/requests", "submit one debtor's real-estate inquiry; poll its ticket", InquiryBody,
                  (202, '{"ticket"}')),
        Operation("get", "/requests/{ticket}", "a ticket's state: processing, then done (with units) or refused",
                  ok=(200, '{"state": "processing"} | {"state": "done", "found", "units"} | {"state": "refused", "reason"}')),
        Operation("post", "/request-batches", "submit up to 500 debtors of one case", BatchInquiryBody, (202, '{"ticket"}')),
        Operation("get", "/request-batches/{ticket}", "a batch ticket's state",
                  ok=(200, '{"state": "done", "results": [{"request_id", "found", "units"}]} | processing | refused')),
    ),
    "vehicle": (
        Operation("post", "/batch-queries", "up to 100 debtors: their registered vehicles", BatchBody,
                  (200, '{"batch_id", "results": [{"item_id", ...}]}, one per item')),
    ),
    "payment": (
        Operation("post", "/gateway", "the open-platform gateway: one envelope, the method names the call", Envelope,
                  (200, '{"code", "msg", "sub_msg"?, "data"?}: code 10000 success, 20000 unavailable (retry), '
                        '40001 unknown method, 40002 invalid arguments (every field at fault in sub_msg), 40003 refused, '
                        '40004 user not found'),
                  errors=(401, 404, 429, 503)),
    ),
    "lodging": (),
    "airline": (
        Operation("post", "/v1/passenger-restrictions", "restrict a passenger (限制高消费, 失信名单) or lift it (解除限制)",
                  PassengerRestriction, (200, '{"requestNo", "result": "ACCEPTED" | "LIFTED" | "REJECTED", "restrictionNo", '
                                              '"effectiveFrom", "liftedAt", "rejectReason", "duplicate"}'),
                  errors=(400, 401, 404, 429, 503)),
    ),
    "railway": (
        Operation("post", "/otn/courtRestriction/submit", "restrict a passenger (XZ: XG 限制高消费, SX 失信名单) or lift it (JC)",
                  CourtRestriction, (200, '{"httpstatus": 200, "status", "messages", "data": {"sqdh", "clzt": "YZX" | "YJC" | "JJ", '
                                          '"xzbh", "sxrq", "jcrq", "jjyy", "cf"}}; status false with messages for a body that does not fit'),
                  errors=(401, 404, 429, 503)),
    ),
    "equity": (
        Operation("post", "/v2/shareholder-searches", "a shareholder search for up to 500 debtors of one case", BatchInquiryBody,
                  (201, '{"search_id", "total_rows", "page_size", "pages"}; read it page by page')),
        Operation("get", "/v2/shareholder-searches/{search_id}", "one page of a search's rows",
                  ok=(200, '{"search_id", "page", "pages", "total_rows", "rows": [{"request_id", "holding_no", "company_name", '
                           '"company_uscc", "registered_capital_fen", "subscribed_fen", "holding_bp", "value_fen"}]}'),
                  query=(_query("page", "1-based page number (default 1)", 1, 10**6),)),
        Operation("get", "/v2/publicity/{company_uscc}", "the public notice board: freezes in effect on shares of the company",
                  ok=(200, "the freezes on shares of that company (court, case, holding, dates)")),
    ),
    "securities": (
        Operation("post", "/csdc/v1/business", "a depository business message: biz_code names it (Q001 query, F001 freeze, "
                  "F002 continue, F003 unfreeze)", BusinessRequest,
                  (200, '{"request_no", "ret_code", "ret_msg", "server_time", ...}: ret_code 0000 done, 1001 credentials not '
                        'registered, 2001 outside working hours (next_submit_time: submit again then; nothing is recorded), '
                        '3001 refused (record.reason); Q001 answers trade_date and results, one {request_id, accounts: '
                        '[{account_no, holdings: [{security_code, security_name, quantity, price_fen, value_fen}]}]} per '
                        'subject; F001-F003 answer the control record (held_quantity, requested_quantity, held_fen, ...)'),
                  errors=(400, 401, 404, 429, 503)),
    ),
    "fund": (
        Operation("post", "/exchange", "the provincial exchange envelope: head.jydm names the transaction", FundEnvelope,
                  (200, '{"head": {"jylsh", "jydm", "fhdm", "fhxx"}, "body"}: fhdm 0000 done, 1001 refused, '
                        '1002 unknown transaction; CX01 answers body.cxjg, one {xh, cxzt, zhxx} per subject; '
                        'KZ01 answers a control record, always refused (these funds may not be controlled)'),
                  errors=(400, 401, 404, 429, 503)),
    ),
    "court": (
        Operation("post", "/association/v1/party-searches", "is any of up to 500 parties an applicant (申请执行人) in this court's cases",
                  PartySearch, (200, '{"search_no", "hits": [{"ref", "role", "cases": [{"claim_no", "case_number", "amount_due_fen", '
                                     '"collected_fen", "pending_payout_fen"}]}]}: only parties found have a hit')),
        Operation("post", "/association/v1/assistance-letters", "an assistance letter (协助执行函): withhold (扣留) the applicant's "
                  "payout, extend or release the withholding, or transfer what it holds to the asking court's 执行款专户", Letter,
                  (200, '{"letter_no", "outcome" (done, partly_done, queued, refused, released), "withholding_no", "withheld_fen", '
                        '"requested_fen", "transferred_fen", "queue_position", "start_date", "end_date", "reason", "duplicate"}; '
                        'a refusal is a business answer (outcome refused), not an HTTP error'),
                  errors=(400, 401, 404, 429, 503)),
    ),
}
# Kinds whose one endpoint takes an envelope whose inner body's shape follows a code in it: the
# request is documented as one variant per code. (schema name, envelope, code's place, body field, codes)
VARIANTS: dict[str, tuple[str, type[BaseModel], Callable[[str], dict[str, Any]], str, dict[str, tuple[type[BaseModel], str]]]] = {
    "payment": ("PaymentRequest", Envelope, lambda code: {"method": {"const": code}}, "biz_content", PAYMENT_METHODS),
    "fund": ("FundRequest", FundEnvelope, lambda code: {"head": {"properties": {"jydm": {"const": code}}}}, "body",
             {code: (model, f"transaction {code}") for code, model in FUND_BODIES.items()}),
}
ERRORS = {
    400: "bad_request: the body does not fit; errors names every field at fault",
    401: "unauthenticated: unsigned, unknown key id, bad signature, stale or replayed (reason says which)",
    403: "refused: an officer credential is not registered",
    404: "unknown_institution: no institution of this kind with that id here",
    429: "throttled: too many requests (Retry-After)",
    503: "unavailable: an outage; try again later",
}


def operations(kind: str) -> tuple[Operation, ...]:
    return (*OPERATIONS[kind], *((CONTROLS,) if kind in CONTROLS_ROUTE else ()),
            *((STATUS,) if kind in STATUS_ROUTE else ()), EVENTS)


def _schemas(kind: str) -> dict[str, Any]:
    models = {op.body for op in operations(kind) if op.body} | {InstitutionEvent}
    if kind in VARIANTS:
        models |= {model for model, _ in VARIANTS[kind][4].values()}
    _, defs = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                 ref_template="#/components/schemas/{model}")
    schemas = defs.get("$defs", {})
    schemas["Error"] = {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "reason": {"type": "string"},
        "errors": {"type": "array", "description": "every field at fault (400 only)", "items": {
            "type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}}
    if kind in VARIANTS:  # one envelope per code: the inner body's shape follows the code
        name, envelope, code_at, body_field, codes = VARIANTS[kind]
        schemas[name] = {"oneOf": [
            {"allOf": [{"$ref": f"#/components/schemas/{envelope.__name__}"}], "title": code, "description": what,
             "properties": {**code_at(code), body_field: {"$ref": f"#/components/schemas/{model.__name__}"}}}
            for code, (model, what) in codes.items()]}
    return schemas


def _operation(kind: str, op: Operation) -> dict[str, Any]:
    status, description = op.ok
    out: dict[str, Any] = {
        "summary": op.summary, "operationId": f"{kind}_{op.method}_" + re.sub(r"[^a-z0-9]+", "_", op.path.lower()).strip("_"),
        "parameters": [{"name": "inst", "in": "path", "required": True, "description": f"the {kind} institution's id, e.g. {kind}-01",
                        "schema": {"type": "string"}},
                       *({"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                         for name in re.findall(r"\{(\w+)\}", op.path)), *op.query],
        "responses": {str(status): {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}},
                      **{str(e): {"description": ERRORS[e], "content": {"application/json": {
                          "schema": {"$ref": "#/components/schemas/Error"}}}} for e in op.errors}},
        **op.extra,
    }
    if op.body is not None:
        name = VARIANTS[kind][0] if kind in VARIANTS and op.body is VARIANTS[kind][1] else op.body.__name__
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
    return out


@cache
def document(kind: str) -> dict[str, Any]:
    if kind not in APIS:
        raise ValueError(f"unknown institution kind {kind!r}; expected one of {', '.join(APIS)}")
    paths: dict[str, dict[str, Any]] = {}
    for op in operations(kind):
        paths.setdefault("/{inst}" + op.path, {})[op.method] = _operation(kind, op)
    headers = {HEADER_KEY_ID: "the institution's id (the first path segment)", HEADER_TIMESTAMP: "unix seconds",
               HEADER_NONCE: "16-64 hex characters, new for every request",
               HEADER_SIGNATURE: "lowercase hex HMAC-SHA256 of the canonical request under the institution's key"}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"asset-gateway partner API: {kind}", "version": "1",
                 "description": (APIS[kind].__doc__ or "").strip() + "\n\nEvery request is signed: docs/partners.md#signing."},
        "paths": paths,
        "components": {
            "schemas": _schemas(kind),
            "securitySchemes": {h.replace("-", ""): {"type": "apiKey", "in": "header", "name": h, "description": d}
                                for h, d in headers.items()},
        },
        "security": [{h.replace("-", ""): [] for h in headers}],
    }


def install(app: web.Application, kind: str) -> None:
    """``GET /openapi.json`` on the kind's app, unsigned (``simulators.partner_link`` exempts it)."""
    body = render(document(kind))

    async def serve(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app.router.add_get(PATH, serve)


def render(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for kind in APIS:
        (OUT / f"{kind}.json").write_bytes(render(document(kind)))
    print(f"wrote {', '.join(f'{k}.json' for k in APIS)} to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
