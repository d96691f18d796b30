"""Templates and the words officers read: Jinja2 with autoescaping, Chinese labels first, money
in yuan, times as the API gives them (Asia/Shanghai)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from gateway.console.sessions import CSRF_FIELD, SESSION
from schemas.assets import asset_id, attributable_fen
from schemas.money import yuan

TEMPLATES = Path(__file__).parent / "templates"
ENV = web.AppKey("console_templates", jinja2.Environment)

KINDS = {"deposit": "存款", "wallet": "网络资金", "real_estate": "不动产", "vehicle": "车辆", "equity": "股权",
         "fund_account": "公积金/社保账户", "court_claim": "他案执行款", "person": "人员",
         "securities": "证券（股票）"}
FUND_TYPES = {"housing_provident_fund": "住房公积金", "social_insurance": "社会保险"}
ORDER_TYPES = {"freeze": "冻结", "continue": "续冻", "unfreeze": "解冻", "deduct": "扣划",
               "restrict_consumption": "限制高消费", "list_dishonest": "纳入失信名单", "lift_restriction": "解除限制"}
# Money another court holds for the debtor is withheld there (扣留), not frozen.
COURT_CLAIM_ORDER_TYPES = {**ORDER_TYPES, "freeze": "扣留", "continue": "续行扣留", "unfreeze": "解除扣留"}
ORDER_STATUSES = {"requested": "已提交", "sent": "已发送", "applied": "已执行", "partially_applied": "部分执行",
                  "queued": "轮候", "refused": "被拒绝", "failed": "失败", "lapsed": "已到期", "released": "已解除",
                  "declined": "不予批准"}
ACCOUNT_TYPES = {"debit_card": "借记卡", "savings": "储蓄", "corporate": "对公", "social_insurance": "社保卡（受保护）",
                 "housing_provident_fund": "住房公积金（受保护）"}
LEG_STATUSES = {"pending": "待发送", "sent": "查询中", "found": "有财产", "not_found": "无财产", "refused": "拒绝",
                "failed": "失败", "timed_out": "超时"}


def detail(a: dict[str, Any]) -> str:
    if a["kind"] == "deposit":
        return ACCOUNT_TYPES.get(a["account_type"], a["account_type"]) + (f" · 受保护：{a['protected_reason']}" if a.get("protected") else "")
    if a["kind"] == "real_estate":
        return f"{a['address']} · {a['floor_area_dm2'] // 100}.{a['floor_area_dm2'] % 100:02d} m² · {a['certificate_no']}"
    if a["kind"] == "vehicle":
        return f"{a['model']} · {a['vin']}"
    if a["kind"] == "equity":
        return f"{a['company_name']}（{a['company_uscc']}）· 持股 {a['holding_bp'] // 100}.{a['holding_bp'] % 100:02d}%"
    if a["kind"] == "securities":
        return f"{a['security_name']}（{a['security_code']}）· 证券账户 {a['account_no']} · {a['quantity']} 股 × {yuan(a['price_fen'])}"
    if a["kind"] == "fund_account":
        return f"{FUND_TYPES.get(a['fund_type'], a['fund_type'])} · {a['account_status']} · 受保护：{a['protected_reason']}"
    if a["kind"] == "court_claim":
        return f"申请执行人 · {a['case_number']} · 标的 {yuan(a['amount_due_fen'])} · 已到位 {yuan(a['collected_fen'])} · 待发放（左列金额）"
    return ""


def order_type(t: str, asset_kind: str | None = None) -> str:
    return (COURT_CLAIM_ORDER_TYPES if asset_kind == "court_claim" else ORDER_TYPES).get(t, t)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(yuan=lambda fen: "—" if fen is None else yuan(fen), asset_id=asset_id, share=attributable_fen, detail=detail,
                       kind=lambda k: KINDS.get(k, k), order_type=order_type,
                       order_status=lambda s: ORDER_STATUSES.get(s, s), leg_status=lambda s: LEG_STATUSES.get(s, s),
                       when=lambda t: "—" if not t else str(t).replace("T", " ")[:19])
    return env


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    session = request.get(SESSION)
    context.setdefault("officer", session.officer if session else None)
    context.setdefault("csrf", session.csrf if session else "")
    context.setdefault("errors", [])
    html = request.app[ENV].get_template(template).render(csrf_field=CSRF_FIELD, **context)
    return web.Response(text=html, content_type="text/html", status=status)
