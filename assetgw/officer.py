"""The officer's CLI side: reports for a person to read (bulk submission is assetgw/inquire.py; the
`report` command with its filters is assetgw/report_cli.py)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from assetgw.tables import keep_whole
from assetgw.terminal import inert
from gateway.inquiries.states import UNANSWERED
from schemas.assets import ASSET_KINDS, asset_id
from schemas.money import yuan

KIND_TITLES = {"deposit": "存款 Deposits", "real_estate": "不动产 Real estate", "vehicle": "车辆 Vehicles", "wallet": "网络资金 Payment wallets",
               "equity": "股权 Equity in companies", "fund_account": "公积金与社保 Provident fund and social insurance (protected)",
               "court_claim": "他案执行款 Money other courts hold for the debtor as applicant",
               "securities": "证券 Securities (listed shares)"}
FUND_TYPE_TITLES = {"housing_provident_fund": "住房公积金", "social_insurance": "社会保险"}


def render_inquiry(inquiry: dict[str, Any], console: Console) -> None:
    """The report for a person to read; every value from the gateway is printed inert."""
    case = inquiry["case"]
    console.rule(f"查控报告 Asset report · {inert(case['case_number'])}")
    console.print(f"court {inert(case['court'])} · due {yuan(case['amount_due_fen'])} + costs {yuan(case['costs_fen'])} · "
                  f"notice {inert(case['notice_number'])}")
    console.print(f"inquiry {inert(inquiry['id'])} · {inert(inquiry['status'])} · created {inert(inquiry['created_at'])} · "
                  f"completed {inert(inquiry['completed_at'] or '-')}")
    for rep in inquiry["reports"]:
        render_debtor(rep, console)


def render_debtor(rep: dict[str, Any], console: Console) -> None:
    d = rep["debtor"]
    console.print()
    console.print(f"[bold]被执行人 {inert(d['name'])}[/bold] ({inert(d['kind'])}, {inert(d['id_number'])}) — "
                  f"{rep['legs_done']}/{rep['legs_total']} institutions answered")
    for kind in ASSET_KINDS:
        assets = rep["assets"][kind]
        if not assets:
            continue
        table = Table(title=KIND_TITLES[kind], title_justify="left", show_edge=False)
        for column in ("institution", "asset", "detail", "share", "value", "控制 control"):
            table.add_column(column, justify="right" if column in ("share", "value") else "left", overflow="fold")  # wrap, never "…"
        keep_whole(table, 1, (asset_id(a) for a in assets))  # the asset id is pasted into orders: never cut
        keep_whole(table, 0, (a["institution_id"] for a in assets))  # orders name it too
        keep_whole(table, 3, (f"{a.get('share_percent', 100)}%" for a in assets))
        keep_whole(table, 4, (yuan(a["value_fen"]) for a in assets))  # money is never shown cut
        for a in assets:
            table.add_row(inert(a["institution_id"]), inert(asset_id(a)), inert(_detail(a)), inert(f"{a.get('share_percent', 100)}%"),
                          _value(a), _control(a))
        console.print(table)
    totals = rep["totals_fen"]
    console.print("totals (debtor's share): " + " · ".join(f"{k} {yuan(totals[k])}" for k in ASSET_KINDS)
                  + f" · [bold]all {yuan(totals['all'])}[/bold]")
    troubles = [leg for leg in rep["legs"] if leg["status"] in UNANSWERED]
    for leg in troubles:
        console.print(f"  [yellow]{inert(leg['institution_id'])} {inert(leg['status'])}[/yellow]: {inert(leg['reason'])}")


def _value(a: dict[str, Any]) -> str:
    """The value now; a balance the bank has told of since the inquiry says so."""
    if "reported_value_fen" in a:
        return f"{yuan(a['value_fen'])}\n[dim]as of {inert(a['balance_as_of'][5:16].replace('T', ' '))}[/dim]"  # MM-DD HH:MM
    return yuan(a["value_fen"])


def _control(a: dict[str, Any]) -> str:
    """Each freeze on the asset: whose, how much, until when, or its place in the 轮候 queue."""
    lines = []
    for c in a.get("control", []):
        until = (c["end_date"] or "")[:10]
        if c["status"] == "queued":
            lines.append(f"轮候 #{inert(c['queue_position'])} {inert(c['court'])}")
        else:
            held = f" {yuan(c['held_fen'])}" if c["held_fen"] is not None else ""
            lines.append(f"冻结{held} {inert(c['court'])} 至 {inert(until)}")
    return "\n".join(lines)


def _detail(a: dict[str, Any]) -> str:  # plain text: the caller makes it inert
    if a["kind"] == "deposit":
        return a["account_type"] + (f" · PROTECTED: {a['protected_reason']}" if a.get("protected") else "")
    if a["kind"] == "real_estate":
        return f"{a['address']} · {a['floor_area_dm2'] / 100:.2f} m²"
    if a["kind"] == "vehicle":
        return f"{a['model']} · {a['vin']}"
    if a["kind"] == "equity":
        return (f"{a['company_name']} ({a['company_uscc']}) · 持股 {a['holding_bp'] / 100:.2f}% · "
                f"注册资本 {yuan(a['registered_capital_fen'])} · 认缴 {yuan(a['subscribed_fen'])}")
    if a["kind"] == "securities":
        return f"{a['security_name']} ({a['security_code']}) · 账户 {a['account_no']} · {a['quantity']} 股 × {yuan(a['price_fen'])}"
    if a["kind"] == "fund_account":
        return f"{FUND_TYPE_TITLES[a['fund_type']]} · {a['account_status']} · PROTECTED: {a['protected_reason']}"
    if a["kind"] == "court_claim":
        return f"申请执行人 in {a['case_number']} · 标的 {yuan(a['amount_due_fen'])} · 已到位 {yuan(a['collected_fen'])} · 待发放 (value)"
    return ""
