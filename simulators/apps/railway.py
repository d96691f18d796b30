"""The railway (中国国家铁路集团, 12306): its court-cooperation interface in 12306's own style — one
envelope ``{"httpstatus", "status", "messages", "data"}`` around every answer (``status`` false with
the reasons in ``messages`` for a request it cannot take), field names in pinyin abbreviations. The
railway holds no assets and answers no asset inquiries; it takes consumption restrictions.

- ``POST /{inst}/otn/courtRestriction/submit`` with ``{"sqdh" (申请单号: the network's order id),
  "czlx" ("XZ" 限制 | "JC" 解除), "cslb" (XZ: "XG" 限制高消费 | "SX" 失信被执行人名单), "zjlx" ("1":
  居民身份证), "zjhm", "fymc" (court), "ah" (case), "wsh" (decision number), "tzsh" (notice),
  "flyj" (legal basis), "zfzh" (officer credentials), "sdsj" (served at, ISO 8601), "ysqdh" (JC:
  the restriction's sqdh)}`` → 200 ``{"httpstatus": 200, "status": true, "messages": [], "data":
  {"sqdh", "clzt" ("YZX" 已执行 | "YJC" 已解除 | "JJ" 拒绝), "xzbh" (restriction number), "sxrq"
  (in force from), "jcrq" (lifted at), "jjyy" (why refused), "cf" (a repeat)}}``; a body that does
  not fit answers 200 with ``"status": false`` and every field at fault in ``messages``.

While a restriction is in force the person may not buy a soft sleeper, any seat of a G-series
train, nor first class and above on other bullet trains (限高规定 art. 3); a hard seat on an
ordinary train is sold. Each refused purchase is a ``purchase_refused`` event on the feed.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, Field, model_validator

from simulators.apps.carriers import add_routes as add_carrier_routes
from simulators.apps.carriers import execute
from simulators.apps.common import BodyInvalid, WireModel, institution, json_response, read_json, validate
from simulators.apps.faults import misbehave

MEASURES = {"XG": "restrict_consumption", "SX": "list_dishonest"}
STATES = {"applied": "YZX", "released": "YJC", "refused": "JJ"}


class CourtRestriction(WireModel):
    sqdh: str = Field(min_length=1, max_length=128, description="申请单号: the network's order id; 12306 dedupes on it")
    czlx: Literal["XZ", "JC"] = Field(description="操作类型: XZ 限制, JC 解除")
    cslb: Literal["XG", "SX"] | None = Field(None, description="措施类别 (XZ): XG 限制高消费, SX 失信被执行人名单")
    zjlx: Literal["1"] = Field(description="证件类型: 1 居民身份证")
    zjhm: str = Field(min_length=1, max_length=64, description="证件号码")
    fymc: str = Field(min_length=1, max_length=64, description="法院名称")
    ah: str = Field(min_length=1, max_length=64, description="案号")
    wsh: str = Field(min_length=1, max_length=64, description="文书号: the decision (or the decision lifting it)")
    tzsh: str = Field(min_length=1, max_length=64, description="协助执行通知书号")
    flyj: str = Field("", max_length=200, description="法律依据")
    zfzh: list[str] = Field(min_length=1, max_length=4, description="执行公务证号")
    sdsj: AwareDatetime = Field(description="送达时间")
    ysqdh: str | None = Field(None, max_length=128, description="原申请单号 (JC): the restriction lifted")

    @model_validator(mode="after")
    def _operation_fields(self) -> CourtRestriction:
        if self.czlx == "XZ" and self.cslb is None:
            raise ValueError("cslb: required for XZ")
        if self.czlx == "JC" and not self.ysqdh:
            raise ValueError("ysqdh: required for JC")
        return self


def envelope(data: object = None, messages: list[str] | None = None) -> web.Response:
    return json_response({"httpstatus": 200, "status": not messages, "messages": messages or [], "data": data})


async def submit(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    try:
        body = validate(CourtRestriction, await read_json(request))
    except BodyInvalid as exc:
        return envelope(messages=[f"{p['field']}: {p['message']}" for p in exc.problems])
    except ValueError as exc:
        return envelope(messages=[str(exc)])
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    record = execute(request, body.sqdh, MEASURES[body.cslb] if body.czlx == "XZ" else None, body.zjhm, body.fymc,  # type: ignore[index]
                     body.ah, body.wsh, body.tzsh, body.zfzh, body.ysqdh, body.sdsj)
    return envelope({"sqdh": body.sqdh, "clzt": STATES[record["status"]], "xzbh": record["freeze_id"], "sxrq": record["start_date"],
                     "jcrq": record["end_date"], "jjyy": record["reason"], "cf": record["duplicate"]})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/otn/courtRestriction/submit", submit)
    add_carrier_routes(app)
