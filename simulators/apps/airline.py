"""Airlines (中国国际航空, 中国东方航空): the restriction interface of their booking systems, REST
resources with camelCase fields as airline distribution APIs have them. An airline holds no assets
and answers no asset inquiries; it takes consumption restrictions and refuses the restricted
person's tickets.

- ``POST /{inst}/v1/passenger-restrictions`` with ``{"requestNo", "action": "RESTRICT" | "LIFT",
  "measure" (RESTRICT: restrict_consumption 限制高消费 | list_dishonest 失信被执行人名单),
  "passenger": {"idType": "NI" (national identity card), "idNo"}, "court", "caseNo", "decisionNo",
  "noticeNo", "legalBasis", "officerCredentials", "servedAt", "originalRequestNo" (LIFT: the
  restriction's requestNo)}`` → 200 ``{"requestNo", "result": "ACCEPTED" | "LIFTED" | "REJECTED",
  "restrictionNo", "effectiveFrom", "liftedAt", "rejectReason", "duplicate"}``. A repeated
  requestNo gets its first answer back (``duplicate``: true) and changes nothing. 400 names every
  field at fault.

While a restriction is in force every flight is refused to the person (限高规定 art. 3), and each
refused purchase is a ``purchase_refused`` event on the feed. Purchases happen through the admin
ticket counter (``simulators.apps.carriers``).
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, Field, model_validator

from schemas.restrictions import Measure
from simulators.apps.carriers import add_routes as add_carrier_routes
from simulators.apps.carriers import execute
from simulators.apps.common import WireModel, institution, json_response, read_body
from simulators.apps.faults import misbehave

RESULTS = {"applied": "ACCEPTED", "released": "LIFTED", "refused": "REJECTED"}


class PassengerId(WireModel):
    idType: Literal["NI"] = Field(description="NI: national identity card (居民身份证)")
    idNo: str = Field(min_length=1, max_length=64)


class PassengerRestriction(WireModel):
    requestNo: str = Field(min_length=1, max_length=128, description="the court network's order id; the airline dedupes on it")
    action: Literal["RESTRICT", "LIFT"]
    measure: Measure | None = Field(None, description="RESTRICT: restrict_consumption (限制高消费) or list_dishonest (失信)")
    passenger: PassengerId
    court: str = Field(min_length=1, max_length=64)
    caseNo: str = Field(min_length=1, max_length=64)
    decisionNo: str = Field(min_length=1, max_length=64, description="限制消费令 / 失信决定书, or the decision lifting it")
    noticeNo: str = Field(min_length=1, max_length=64)
    legalBasis: str = Field("", max_length=200)
    officerCredentials: list[str] = Field(min_length=1, max_length=4)
    servedAt: AwareDatetime
    originalRequestNo: str | None = Field(None, max_length=128, description="LIFT: the requestNo of the restriction lifted")

    @model_validator(mode="after")
    def _action_fields(self) -> PassengerRestriction:
        if self.action == "RESTRICT" and self.measure is None:
            raise ValueError("measure: required to RESTRICT")
        if self.action == "LIFT" and not self.originalRequestNo:
            raise ValueError("originalRequestNo: required to LIFT")
        return self


async def restrict(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, PassengerRestriction)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    record = execute(request, body.requestNo, body.measure if body.action == "RESTRICT" else None, body.passenger.idNo, body.court,
                     body.caseNo, body.decisionNo, body.noticeNo, body.officerCredentials, body.originalRequestNo, body.servedAt)
    return json_response({"requestNo": body.requestNo, "result": RESULTS[record["status"]], "restrictionNo": record["freeze_id"],
                          "effectiveFrom": record["start_date"], "liftedAt": record["end_date"],
                          "rejectReason": record["reason"], "duplicate": record["duplicate"]})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/v1/passenger-restrictions", restrict)
    add_carrier_routes(app)
