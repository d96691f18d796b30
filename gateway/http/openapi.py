"""The gateway's OpenAPI 3.1 document, built from the same pydantic models that validate the
requests, so the document cannot drift from the code."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, get_args

from pydantic.json_schema import models_json_schema

from schemas.api import CaseAmendmentRequest, InquiryCreate
from schemas.orders import Approval, Decline, FreezePlanRequest, OrderCreate, OrderStatus, OrderType
from schemas.restrictions import RestrictionCreate, RestrictionLift
from schemas.watches import WatchCreate

_MODELS = (InquiryCreate, OrderCreate, Approval, Decline, FreezePlanRequest, CaseAmendmentRequest, WatchCreate, RestrictionCreate,
           RestrictionLift)
_ERROR = {
    "type": "object", "required": ["error", "message", "errors"],
    "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}, "line": {"type": "integer"}}}},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "error, naming the field at fault", "content": {"application/json": {"schema": _ref("Error")}}}
            for s in statuses}


def _json_body(name: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(name)}}}


def _ok(status: int, description: str, shape: str = "object") -> dict[str, Any]:
    return {str(status): {"description": description, "content": {"application/json": {"schema": {"type": shape}}}}}


AUTH = (401, 403, 429)


def _path_param(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def _case_query() -> dict[str, Any]:
    return {"name": "case_number", "in": "query", "required": False, "description": "only this case of the court",
            "schema": {"type": "string"}}


def _int_query(name: str, description: str, low: int, high: int) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "integer", "minimum": low, "maximum": high}}


def _enum_query(name: str, description: str, values: tuple[str, ...]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", "enum": list(values)}}


def _page_queries() -> list[dict[str, Any]]:
    return [_int_query("limit", "at most this many (default 100)", 1, 500),
            {"name": "cursor", "in": "query", "required": False, "description": "next_cursor of the previous page",
             "schema": {"type": "string"}}]


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "validation") for m in _MODELS], ref_template="#/components/schemas/{model}")
    schemas = {**defs["$defs"], "Error": _ERROR}
    bulk = {"required": True, "content": {"text/csv": {"schema": {"type": "string"}},
                                          "application/x-ndjson": {"schema": {"type": "string"}}}}
    paths = {
        "/v1/inquiries": {"post": {"summary": "Inquire about one case's debtors", "requestBody": _json_body("InquiryCreate"),
                                   "responses": {**_ok(202, "accepted"), **_errors(400, 413, 422, *AUTH)}}},
        "/v1/inquiries/{inquiry_id}": {"get": {
            "summary": "An inquiry's legs and merged reports",
            "parameters": [*_path_param("inquiry_id"), {
                "name": "wait", "in": "query", "required": False,
                "description": "long-poll: answer once the inquiry is complete, or after this many seconds (0-60)",
                "schema": {"type": "number", "minimum": 0, "maximum": 60}}],
            "responses": {**_ok(200, "the inquiry"), **_errors(400, 404, *AUTH)}}},
        "/v1/inquiry-batches": {"post": {
            "summary": "Bulk inquiry (CSV or JSON Lines)", "requestBody": bulk,
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "description": "the same key again returns the batch it first created (200, replayed)",
                            "schema": {"type": "string", "minLength": 8, "maxLength": 128}}],
            "responses": {**_ok(202, "accepted"), **_ok(200, "the batch this Idempotency-Key first created"),
                          **_errors(400, 409, 413, 422, *AUTH)}}},
        "/v1/inquiry-batches/{batch_id}": {"get": {"summary": "A batch's progress", "parameters": _path_param("batch_id"),
                                                   "responses": {**_ok(200, "progress"), **_errors(404, *AUTH)}}},
        "/v1/inquiry-batches/{batch_id}/reports": {"get": {
            "summary": "A batch's reports, one JSON line per debtor", "parameters": _path_param("batch_id"),
            "responses": {"200": {"description": "JSON Lines", "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                          **_errors(404, *AUTH)}}},
        "/v1/orders": {
            "post": {"summary": "Place a freeze, continue, unfreeze or deduct order", "requestBody": _json_body("OrderCreate"),
                     "responses": {**_ok(200, "the first order for this idempotency key"), **_ok(202, "placed"),
                                   **_errors(400, 409, 413, 422, *AUTH)}},
            "get": {"summary": "The court's orders, newest first, filtered, a page at a time",
                    "parameters": [_case_query(), _enum_query("status", "only orders in this state", get_args(OrderStatus)),
                                   _enum_query("type", "only orders of this type", get_args(OrderType)),
                                   {"name": "awaiting_approval", "in": "query", "required": False,
                                    "description": "true: only deductions waiting for a second officer; false: all but those",
                                    "schema": {"type": "string", "enum": ["true", "false"]}},
                                   *_page_queries()],
                    "responses": {**_ok(200, "orders and next_cursor"), **_errors(400, 422, *AUTH)}}},
        "/v1/cases": {"get": {"summary": "The court's cases with their money and alerts, most recently opened first",
                              "parameters": _page_queries(),
                              "responses": {**_ok(200, "cases and next_cursor"), **_errors(400, *AUTH)}}},
        "/v1/orders/{order_id}": {"get": {"summary": "An order and its history", "parameters": _path_param("order_id"),
                                          "responses": {**_ok(200, "the order"), **_errors(404, *AUTH)}}},
        "/v1/orders/{order_id}/approve": {"post": {
            "summary": "A second officer approves a deduction", "parameters": _path_param("order_id"),
            "requestBody": _json_body("Approval", required=False),
            "responses": {**_ok(200, "approved"), **_errors(400, 404, 409, 413, 422, *AUTH)}}},
        "/v1/orders/{order_id}/decline": {"post": {
            "summary": "A second officer declines a deduction, with the reason: it is never sent", "parameters": _path_param("order_id"),
            "requestBody": _json_body("Decline"),
            "responses": {**_ok(200, "declined"), **_errors(400, 404, 409, 413, 422, *AUTH)}}},
        "/v1/cases/{case_number}/freeze-plan": {"post": {
            "summary": "Plan (and optionally place) the freezes that cover a case", "parameters": _path_param("case_number"),
            "requestBody": _json_body("FreezePlanRequest"),
            "responses": {**_ok(200, "the plan"), **_ok(202, "placed"), **_errors(400, 409, 413, 422, *AUTH)}}},
        "/v1/restrictions": {"post": {
            "summary": "Restrict a debtor's high consumption (限制高消费) or list him as dishonest (失信) at every airline and the "
                       "railway: one order per carrier", "requestBody": _json_body("RestrictionCreate"),
            "responses": {**_ok(200, "replayed: the same orders"), **_ok(202, "placed: the orders, one per carrier"),
                          **_errors(400, 409, 413, 422, *AUTH)}}},
        "/v1/restrictions/lift": {"post": {
            "summary": "Lift (解除限制) the debtor's restrictions of the case at every carrier where one is in force",
            "requestBody": _json_body("RestrictionLift"),
            "responses": {**_ok(200, "replayed: the same orders"), **_ok(202, "placed: one lifting order per restriction"),
                          **_errors(400, 409, 413, 422, *AUTH)}}},
        "/v1/cases/{case_number}": {"get": {
            "summary": "A case: amounts, money collected, frozen and released, and its history", "parameters": _path_param("case_number"),
            "responses": {**_ok(200, "the case"), **_errors(404, 422, *AUTH)}}},
        "/v1/cases/{case_number}/reports": {"get": {
            "summary": "The case's debtors, each with his merged report from the case's latest inquiry about him",
            "parameters": _path_param("case_number"),
            "responses": {**_ok(200, "the reports"), **_errors(422, *AUTH)}}},
        "/v1/figures": {"get": {
            "summary": "The court's command-centre figures: inquiries, legs, answers, assets and money, per institution and over time",
            "responses": {**_ok(200, "the figures"), **_errors(*AUTH)}}},
        "/v1/cases/{case_number}/amendments": {"post": {
            "summary": "Amend what a case may take, under a ruling (audited)", "parameters": _path_param("case_number"),
            "requestBody": _json_body("CaseAmendmentRequest"),
            "responses": {**_ok(200, "the amended case"), **_errors(400, 404, 413, 422, *AUTH)}}},
        "/v1/watches": {
            "post": {"summary": "Watch a debtor of a case: money arriving, vehicle sightings, hotel check-ins",
                     "requestBody": _json_body("WatchCreate"),
                     "responses": {**_ok(200, "the first watch for this idempotency key"), **_ok(202, "placed"),
                                   **_errors(400, 409, 413, 422, *AUTH)}},
            "get": {"summary": "The court's watches", "parameters": [_case_query()],
                    "responses": {**_ok(200, "watches"), **_errors(422, *AUTH)}}},
        "/v1/watches/{watch_id}": {"get": {"summary": "A watch", "parameters": _path_param("watch_id"),
                                           "responses": {**_ok(200, "the watch"), **_errors(404, *AUTH)}}},
        "/v1/watches/{watch_id}/end": {"post": {"summary": "End a watch (it is kept, with who ended it and when)",
                                                "parameters": _path_param("watch_id"),
                                                "responses": {**_ok(200, "the ended watch"), **_errors(404, *AUTH)}}},
        # GET /v1/alerts/stream is left out on purpose: an endless text/event-stream answer cannot be
        # fuzzed or walked like the rest (the walkers would wait for its end); docs/officers.md has it.
        "/v1/alerts": {"get": {
            "summary": "The court's alerts, oldest first, after a cursor",
            "parameters": [_case_query(), _int_query("after", "the seq of the last alert seen", 0, 2**62),
                           _int_query("limit", "at most this many (default 100)", 1, 1000)],
            "responses": {**_ok(200, "alerts and next_after"), **_errors(400, 422, *AUTH)}}},
        "/v1/institutions": {"get": {"summary": "The institution directory",
                                     "responses": {**_ok(200, "institutions", "array"), **_errors(*AUTH)}}},
        "/v1/ops/pending-legs": {"get": {"summary": "Unanswered legs per institution (ops)",
                                         "responses": {**_ok(200, "pending", "array"), **_errors(*AUTH)}}},
        "/v1/ops/access-audit": {"get": {"summary": "Refused requests (ops)", "responses": {**_ok(200, "audit", "array"), **_errors(*AUTH)}}},
        "/healthz": {"get": {"summary": "Health: 503 with a reason while Kafka cannot be reached", "security": [],
                             "responses": {**_ok(200, "healthy"), **_ok(503, "unhealthy, with the reason")}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "asset-gateway", "version": "1", "description": "Court network asset inquiry and control gateway (simulated)"},
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }
