"""What every institution simulator shares: its context, and JSON in and out.

Each kind's app hosts all institutions of that kind under ``/{inst}``; the handlers differ only
in wire format, so the lookup of the institution and body validation live here once
(misbehaviour lives in ``faults``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.assets import Asset
from schemas.directory import Institution
from simulators.behaviour import Behaviours
from simulators.ledger_book import LedgerBook
from simulators.population import REFUSAL_UNREGISTERED as REFUSAL_UNREGISTERED  # re-export for the apps
from simulators.population import Population

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class SimContext:
    kind: str
    population: Population
    behaviours: Behaviours
    institutions: dict[str, Institution]  # only this kind's: the app serves no others
    ledgers: LedgerBook  # shared by every kind's app in the process, like the clock inside it


CONTEXT = web.AppKey("simulator_context", SimContext)


class WireModel(BaseModel):
    # Extra fields are ignored, as partner gateways do: a client adding a field must not break.
    model_config = ConfigDict(extra="ignore", frozen=True)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def http_error(cls: type[web.HTTPException], error: str, reason: str, problems: list[dict[str, str]] | None = None) -> web.HTTPException:
    body: dict[str, Any] = {"error": error, "reason": reason}
    if problems is not None:
        body["errors"] = problems
    return cls(text=orjson.dumps(body).decode(), content_type="application/json")


def context(request: web.Request) -> SimContext:
    return request.app[CONTEXT]


def institution(request: web.Request) -> tuple[SimContext, str]:
    """The context and the institution addressed by ``/{inst}``, or 404 for one not hosted here."""
    ctx = context(request)
    inst = request.match_info["inst"]
    if inst not in ctx.institutions:
        raise http_error(web.HTTPNotFound, "unknown_institution", f"no {ctx.kind} institution {inst!r} here")
    return ctx, inst


@web.middleware
async def refuse_calls_to_polling_banks(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A bank that polls the file exchange takes no partner calls (simulators/polling.py); the
    test and operator endpoints (``/admin``, ``/healthz``) still serve it."""
    ctx = context(request)
    inst = ctx.institutions.get(request.path.split("/", 2)[1])
    if inst is not None and inst.polls:
        raise http_error(web.HTTPNotFound, "polling_institution",
                         f"{inst.id} takes no calls: it polls the network's file exchange for batches of requests")
    return await handler(request)


async def read_json(request: web.Request) -> Any:
    """The decoded body; ``ValueError`` when it is not JSON."""
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from None


async def read_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 ``bad_request`` (the admin routes' bodies)."""
    try:
        body = await read_json(request)
    except ValueError as exc:
        raise http_error(web.HTTPBadRequest, "bad_request", str(exc)) from None
    if not isinstance(body, dict):
        raise http_error(web.HTTPBadRequest, "bad_request", "body must be a JSON object")
    return body


class BodyInvalid(ValueError):
    """A body that does not fit its model; ``problems`` names every field at fault at once, so a
    partner's test team learns the whole contract in one round trip, not one field per call."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems))
        self.problems = problems


def validate(model: type[M], data: Any) -> M:
    """``model`` from decoded JSON; ``BodyInvalid`` naming every field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BodyInvalid([{"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
                           for err in exc.errors()]) from None


async def read_body(request: web.Request, model: type[M]) -> M:
    """The validated body, or a 400 ``bad_request`` whose ``errors`` name every field at fault."""
    try:
        return validate(model, await read_json(request))
    except BodyInvalid as exc:
        raise http_error(web.HTTPBadRequest, "bad_request", str(exc), exc.problems) from None
    except ValueError as exc:
        raise http_error(web.HTTPBadRequest, "bad_request", str(exc)) from None


class Subject(WireModel):
    id_type: Literal["resident_id", "uscc"] = Field(
        description="resident_id: a person's 18-character resident identity number (GB 11643); "
                    "uscc: an organisation's unified social credit code (GB 32100)")
    id_number: str = Field(min_length=1, max_length=64, description="the number of that document")
    name: str = Field(description="the person's or organisation's name, as the court has it")


class InquiryBody(WireModel):
    """One debtor, one case: the request body of the bank and land-registry APIs."""

    request_id: str = Field(min_length=1, max_length=128, description="the caller's id for this request, echoed in the answer")
    case_number: str = Field(description="the enforcement case, e.g. (2025)冀0108执4502号")
    court: str = Field(description="the court's name, e.g. 石家庄市裕华区人民法院")
    notice_number: str = Field(description="the 协助查询通知书 number the court served")
    officer_credentials: list[str] = Field(description="the 执行公务证 numbers of the officers; an unregistered one is refused (403)")
    subject: Subject


MAX_BATCH_SUBJECTS = 500  # the batch limit of the bank and land-registry 总对总 interfaces


class BatchSubject(Subject):
    request_id: str = Field(min_length=1, max_length=128)


class BatchInquiryBody(WireModel):
    """Many debtors, one case: the batch request body of the bank and land-registry APIs. The
    legal basis belongs to the batch; each subject carries the caller's id for its answer."""

    batch_id: str = Field(min_length=1, max_length=128)
    case_number: str
    court: str
    notice_number: str
    officer_credentials: list[str]
    subjects: list[BatchSubject] = Field(min_length=1, max_length=MAX_BATCH_SUBJECTS)


DebtorKind = Literal["person", "organisation"]
ID_TYPE_KIND: dict[str, DebtorKind] = {"resident_id": "person", "uscc": "organisation"}


def holdings(ctx: SimContext, inst: str, id_number: str, kind: DebtorKind | None) -> list[Asset]:
    """What the institution holds for the debtor, straight from the ground truth, for an answer to
    a query: from now on the network knows these assets, so their changes are events. Institutions
    index customers by (document type, number), so a resident ID sent as a credit code finds
    nobody; ``kind=None`` matches the number alone (the vehicle office's batch rows)."""
    record = ctx.population.find(id_number)
    if record is None or (kind is not None and record.kind != kind):
        return []
    assets = ctx.population.assets_at(inst, id_number)
    ctx.ledgers.note_reported(inst, assets)
    return assets
