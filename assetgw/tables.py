"""Tables of orders, plans and cases for a person at a terminal; every value from the gateway is
printed inert (assetgw/terminal.py). Ids are what the officer pastes
into the next command, so an id column never wraps or cuts: it keeps the width of its longest id
and the other columns give way (they wrap). ``--json`` prints the API's answer instead."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from assetgw.terminal import inert
from schemas.money import yuan


def id_column(table: Table, header: str, ids: Iterable[str]) -> None:
    """A column that holds ids whole: no wrapping, as wide as the longest line in it."""
    table.add_column(header)
    keep_whole(table, len(table.columns) - 1, ids)


def keep_whole(table: Table, index: int, ids: Iterable[str]) -> None:
    """Column ``index`` holds ids: it neither wraps nor cuts and is as wide as its longest line, so
    on a narrow terminal the other columns give way."""
    column = table.columns[index]
    widest = max((cell_len(line) for text in ids for line in text.splitlines()), default=0)  # CJK takes two cells
    column.no_wrap, column.overflow = True, "ignore"
    column.min_width = max(widest, cell_len(str(column.header)))


def lines(*values: object) -> str:
    """A cell of several lines, each value inert (a newline inside one would be shown, not kept)."""
    return "\n".join(inert(v) for v in values)


def _money(fen: int | None) -> str:
    return "-" if fen is None else yuan(fen)


def _day(iso: str | None) -> str:
    """The calendar day of an instant the API gives in Asia/Shanghai (+08:00): as people here count."""
    return (iso or "")[:10] or "-"


def order_cell(o: dict[str, Any]) -> str:
    return lines(o["id"], f"{o['institution_id']} {o['asset']['kind']}", o["asset"]["id"])


def orders_table(orders: Sequence[dict[str, Any]], title: str) -> Table:
    """Three lines an order: fits 80 columns with the 32-character order id and a 28-character
    unit number whole."""
    table = Table(title=title, title_justify="left", show_edge=False, show_lines=True)
    id_column(table, "order · institution · asset", (order_cell(o) for o in orders))
    table.add_column("type · status · case", overflow="fold")
    table.add_column("amount · held · until", justify="right", overflow="fold")
    for o in orders:
        status = [o["status"], *(["awaiting approval"] if o["awaiting_approval"] else [])]
        r = o["result"]
        table.add_row(order_cell(o), lines(o["type"], *status, o["case_number"]),
                      f"{_money(o['amount_fen'])}\nheld {_money(r['held_fen'])}\nuntil {_day(r['end_date'])}")
    return table


def print_order(o: dict[str, Any], console: Console) -> None:
    """One order, a field a line: what an officer checks after placing or approving it."""
    r = o["result"]
    lines = [
        ("order", o["id"]), ("type · status", f"{o['type']} · {o['status']}"), ("case", o["case_number"]),
        ("institution", o["institution_id"]), ("asset", f"{o['asset']['kind']} {o['asset']['id']}"),
        ("amount", _money(o["amount_fen"])), ("held · deducted", f"{_money(r['held_fen'])} · {_money(r['deducted_fen'])}"),
        ("from · until", f"{r['start_date'] or '-'} · {r['end_date'] or '-'}"),
        ("operator · checker", f"{o['operator']} · {o['checker'] or '-'}"),
        ("original order", o["original_order_id"] or "-"), ("idempotency key", o["idempotency_key"]),
    ]
    if o.get("quantity") is not None:
        lines.insert(6, ("shares", o["quantity"]))
    if r["reason"]:
        lines.append(("reason", r["reason"]))
    # The institution would take it only later (the depository's working hours): when, and why.
    queued = [h for h in o.get("history") or [] if h["event"] == "queued_for_submission"]
    if o["status"] == "sent" and queued:
        lines.append(("submission queued", f"until {o['sent_at']}: {queued[-1]['detail'].get('reason')}"))
    for label, value in lines:
        console.print(f"{label:>20}  {inert(str(value))}", soft_wrap=True)  # soft_wrap: never cut an id
    if o["awaiting_approval"]:
        console.print(f"{'':>20}  awaiting a second officer: assetgw approve {inert(o['id'])} (a token with the deduct role)",
                      soft_wrap=True)


def plan_table(plan: dict[str, Any]) -> Table:
    table = Table(title=f"冻结方案 Freeze plan · {inert(plan['case_number'])}", title_justify="left", show_edge=False, show_lines=True)
    cells = [lines(f"{p['institution_id']} {p['asset']['kind']}", p["asset"]["id"]) for p in plan["orders"]]
    id_column(table, "institution · asset", cells)
    table.add_column("freeze", justify="right")
    table.add_column("term", justify="right")
    table.add_column("why", overflow="fold")
    for cell, p in zip(cells, plan["orders"], strict=True):
        amount = (_money(p["amount_fen"]) if p["amount_fen"] is not None else f"{p['quantity']} shares\n{_money(p['value_fen'])}"
                  if p.get("quantity") is not None else f"whole\n{_money(p.get('value_fen'))}")
        table.add_row(cell, amount, f"{p['term_days']} d", inert(p.get("reason") or ""))
    return table


def plan_summary(plan: dict[str, Any]) -> list[str]:
    lines = [f"due {yuan(plan['due_fen'])} · collected {yuan(plan['collected_fen'])} · already frozen "
             f"{yuan(plan['covered_fen'])} · this plan {yuan(plan['planned_fen'])} · shortfall {yuan(plan['shortfall_fen'])}"]
    for skipped in plan.get("skipped_protected", []):
        lines.append(inert(f"skipped, protected: {skipped.get('institution_id', '')} {skipped.get('asset', {}).get('id', '')} "
                           f"{skipped.get('reason') or ''}".rstrip()))
    for kept in plan.get("kept_for_living", []):
        lines.append(inert(f"kept free for {kept['debtor_id_number']}: {kept['reason']}"))
    return lines


def cases_table(cases: Sequence[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    id_column(table, "case", (c["case_number"] for c in cases))
    for header in ("due", "frozen", "collected", "alerts"):
        table.add_column(header, justify="right")
    table.add_column("opened")
    for c in cases:
        t = c["totals"]
        table.add_row(inert(c["case_number"]), yuan(t["due_fen"]), yuan(t["frozen_fen"]), yuan(t["collected_fen"]),
                      str(c["alerts"]), _day(c["opened_at"]))
    return table
