"""The officer's work after the inquiry, from the terminal: the freeze plan, orders (freeze,
continue, unfreeze, deduct), consumption restrictions at the carriers and their lifting, a second
officer's approval, and lists of cases and orders — the
same calls as the API (docs/officers.md), with what can be taken from the case, the original
freeze or the token filled in, so an officer types what only he knows: the documents."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from typing import Any, get_args

import orjson
from rich.console import Console

from assetgw.cli_args import parse_yuan, positive
from assetgw.gateway_client import Gateway, GatewayError, path_part, run, token_claims
from assetgw.tables import cases_table, orders_table, plan_summary, plan_table, print_order
from assetgw.terminal import inert
from schemas.orders import MAX_TERM_DAYS, MONEY_KINDS, QUANTITY_KINDS, RESTRICTING, OrderStatus, OrderType

ASSET_KIND_AT = {"bank": "deposit", "payment": "wallet", "land": "real_estate", "vehicle": "vehicle", "equity": "equity", "fund": "fund_account",
                 "court": "court_claim",
                 "securities": "securities"}
ORDER_STATUSES = get_args(OrderStatus)
UNANSWERED = ("requested", "sent")


def _print_json(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _key(args: argparse.Namespace, console: Console) -> str:
    """The idempotency key: the officer's, or a new one, printed so a retry cannot place it twice."""
    key = args.key or f"cli-{uuid.uuid4().hex}"
    console.print(inert(f"idempotency key {key} (to retry safely after an error: --key {key})"), soft_wrap=True)
    return key


def _documents(args: argparse.Namespace) -> dict[str, Any]:
    credentials = args.credential or sorted(token_claims(args.token).get("credentials", []))[:4]
    if not credentials:
        raise GatewayError("no 执行公务证 number: the token carries none; pass --credential", 2)
    return {"ruling_number": args.ruling, "notice_number": args.notice, "officer_credentials": credentials}


# -- the commands -----------------------------------------------------------------------------------

async def plan(args: argparse.Namespace) -> int:
    out, err = Console(emoji=False), Console(stderr=True, emoji=False)
    if args.execute and not (args.ruling and args.notice):
        raise GatewayError("--execute places freezes: give the freeze ruling (--ruling) and notice (--notice)", 2)
    async with Gateway(args.api, args.token) as gw:
        case = await gw.call("GET", f"/v1/cases/{path_part(args.case)}")
        body = {"court": case["court"], **_documents(args), "execute": args.execute}
        if not args.execute:  # a preview places nothing: the documents are not yet needed
            body.update(ruling_number=args.ruling or "preview", notice_number=args.notice or "preview")
        else:
            body["idempotency_key"] = _key(args, err)
        result = await gw.call("POST", f"/v1/cases/{path_part(args.case)}/freeze-plan", body)
    if args.json:
        _print_json(result)
        return 0
    if result.get("replayed"):
        out.print(f"already placed under this key: {len(result['order_ids'])} orders")
    else:
        out.print(plan_table(result))
        for line in plan_summary(result):
            out.print(line, soft_wrap=True)
    if result.get("executed"):
        for order_id in result["order_ids"]:
            out.print(f"placed {inert(order_id)}", soft_wrap=True)
        out.print(f"follow them with: assetgw orders --case '{inert(args.case)}'", soft_wrap=True)
    else:
        out.print(f"to place these: assetgw plan '{inert(args.case)}' --execute --ruling … --notice …", soft_wrap=True)
    return 0


async def order(args: argparse.Namespace) -> int:
    out, err = Console(emoji=False), Console(stderr=True, emoji=False)
    async with Gateway(args.api, args.token) as gw:
        new = {"freeze": _new_freeze, "freeze-deduct": _new_freeze_deduct}.get(args.type, _follow_up)
        body = await new(gw, args)
        body.update(type=args.type.replace("-", "_"), **_documents(args), idempotency_key=_key(args, err))
        placed = await gw.call("POST", "/v1/orders", body)
        if placed.get("replayed"):
            err.print("this key placed the order before: here it is (nothing new was placed)")
        placed = await _settled(gw, placed, args.wait)
    if args.json:
        _print_json(placed)
    else:
        print_order(placed, out)
    return 0


async def _new_freeze(gw: Gateway, args: argparse.Namespace) -> dict[str, Any]:
    case, kind = await _case_and_kind(gw, args)
    if kind in MONEY_KINDS and args.amount is None:
        raise GatewayError(f"freezing a {kind} needs --amount (yuan)", 2)
    if kind in QUANTITY_KINDS and args.quantity is None:
        raise GatewayError(f"freezing {kind} needs --quantity (shares)", 2)
    return {"case_number": case["case_number"], "court": case["court"], "institution_id": args.institution,
            "asset": {"kind": kind, "id": args.asset}, "amount_fen": args.amount if kind in MONEY_KINDS else None,
            **({"quantity": args.quantity} if kind in QUANTITY_KINDS else {}),
            "term_days": args.term_days or MAX_TERM_DAYS[kind]}  # the legal maximum, as the freeze plan uses


async def _new_freeze_deduct(gw: Gateway, args: argparse.Namespace) -> dict[str, Any]:
    """Freeze and deduct at once (冻结并扣划): free money of the asset straight to the court's account."""
    case, kind = await _case_and_kind(gw, args)
    return {"case_number": case["case_number"], "court": case["court"], "institution_id": args.institution,
            "asset": {"kind": kind, "id": args.asset}, "amount_fen": args.amount,
            "enforcement_account": args.account or case.get("enforcement_account")}


async def _case_and_kind(gw: Gateway, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The case named on the command line, and the kind of asset at the institution named."""
    case = await gw.call("GET", f"/v1/cases/{path_part(args.case)}")
    institutions = {i["id"]: i["kind"] for i in await gw.call("GET", "/v1/institutions")}
    if args.institution not in institutions:
        raise GatewayError(f"no institution {args.institution!r}; `assetgw report` shows where each asset is", 2)
    return case, args.kind or ASSET_KIND_AT[institutions[args.institution]]


async def _follow_up(gw: Gateway, args: argparse.Namespace) -> dict[str, Any]:
    """A continue, unfreeze or deduction acts on a freeze: its case, court and asset are the freeze's."""
    freeze = await gw.call("GET", f"/v1/orders/{path_part(args.freeze)}")
    body: dict[str, Any] = {"case_number": freeze["case_number"], "court": freeze["court"],
                            "institution_id": freeze["institution_id"], "asset": freeze["asset"],
                            "original_order_id": freeze["id"]}
    if args.type == "continue":
        body["term_days"] = args.term_days
    if args.type == "unfreeze" and args.quantity is not None:
        body["quantity"] = args.quantity
    if args.type == "deduct":
        held = freeze["result"]["held_fen"] or 0
        body["amount_fen"] = args.amount or held  # all the freeze holds, unless told less
        if not body["amount_fen"]:
            raise GatewayError(f"the freeze {freeze['id']} holds nothing ({freeze['status']}): nothing to deduct", 1)
        case = await gw.call("GET", f"/v1/cases/{path_part(freeze['case_number'])}")
        body["enforcement_account"] = args.account or case.get("enforcement_account")
    return body


async def restrict(args: argparse.Namespace) -> int:
    """限制高消费 (or 失信名单) at every carrier, or with --lift 解除限制: one order per carrier."""
    console, err = Console(emoji=False), Console(stderr=True, emoji=False)
    documents = _documents(args)
    async with Gateway(args.api, args.token) as gw:
        case = await gw.call("GET", f"/v1/cases/{path_part(args.case)}")
        body = {"case_number": case["case_number"], "court": case["court"], "debtor_id_number": args.debtor,
                "decision_number": documents["ruling_number"], "notice_number": documents["notice_number"],
                "officer_credentials": documents["officer_credentials"], "idempotency_key": _key(args, err)}
        if args.measure:
            body["measure"] = args.measure
        placed = await gw.call("POST", "/v1/restrictions/lift" if args.lift else "/v1/restrictions", body)
        shown = [await _settled(gw, o, args.wait) for o in placed["orders"]]
    if args.json:
        _print_json({**placed, "orders": shown})
    else:
        console.print(inert(f"{placed['title']} · {placed['legal_basis'] or placed['decision_number']}"), soft_wrap=True)
        console.print(orders_table(shown, "执行措施 Orders"))
    return 0


async def _settled(gw: Gateway, placed: dict[str, Any], wait_s: float) -> dict[str, Any]:
    """With --wait: the order once its institution answered (a deduction waits for approval first)."""
    deadline = time.monotonic() + wait_s
    current = placed
    while current["status"] in UNANSWERED and not current["awaiting_approval"] and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        current = await gw.call("GET", f"/v1/orders/{path_part(placed['id'])}")
    return current


async def approve(args: argparse.Namespace) -> int:
    async with Gateway(args.api, args.token) as gw:
        approved = await gw.call("POST", f"/v1/orders/{path_part(args.order_id)}/approve")
        approved = await _settled(gw, approved, args.wait)
    if args.json:
        _print_json(approved)
    else:
        print_order(approved, Console(emoji=False))
    return 0


async def decline(args: argparse.Namespace) -> int:
    async with Gateway(args.api, args.token) as gw:
        declined = await gw.call("POST", f"/v1/orders/{path_part(args.order_id)}/decline", {"reason": args.reason})
    if args.json:
        _print_json(declined)
    else:
        print_order(declined, Console(emoji=False))
    return 0


async def orders(args: argparse.Namespace) -> int:
    params = {k: v for k, v in {"case_number": args.case, "status": args.status, "type": args.type,
                                 "awaiting_approval": "true" if args.awaiting_approval else None,
                                 "limit": str(args.limit)}.items() if v is not None}
    async with Gateway(args.api, args.token) as gw:
        page = await gw.call("GET", "/v1/orders", params=params)
    if args.json:
        _print_json(page)
        return 0
    console = Console(emoji=False)
    title = "待审批扣划 Deductions awaiting approval" if args.awaiting_approval else "执行措施 Orders"
    if page["orders"]:
        console.print(orders_table(page["orders"], title))
    else:
        console.print(f"{title}: none")
    if page["next_cursor"]:
        console.print(inert(f"more: --limit {args.limit * 2} (or GET /v1/orders?cursor={page['next_cursor']})"), soft_wrap=True)
    return 0


async def cases(args: argparse.Namespace) -> int:
    async with Gateway(args.api, args.token) as gw:
        page = await gw.call("GET", "/v1/cases", params={"limit": str(args.limit)})
    if args.json:
        _print_json(page)
    else:
        Console(emoji=False).print(cases_table(page["cases"], "案件 Cases"))
    return 0


# -- the parser -------------------------------------------------------------------------------------

def _common(p: argparse.ArgumentParser, api_default: str, json_help: str = "print the API's JSON answer instead") -> None:
    p.add_argument("--api", default=api_default, help=f"gateway URL (default {api_default})")
    p.add_argument("--token", default=os.environ.get("ASSETGW_TOKEN"), help="bearer token (default $ASSETGW_TOKEN; see assetgw token)")
    p.add_argument("--json", action="store_true", help=json_help)


def _documents_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--ruling", required=required, help="the ruling's number (裁定书), e.g. '(2025)冀0108执4502号之一'")
    p.add_argument("--notice", required=required, help="the notice's number (协助执行通知书)")
    p.add_argument("--credential", action="append", default=[],
                   help="a 执行公务证 number to present; repeatable (default: those the token carries)")
    p.add_argument("--key", help="idempotency key (8-128 characters; default: a new one, printed)")


def _runner(name: str, command: Any) -> Any:
    return lambda args: sys.exit(run(name, command(args)))


def add_officer_commands(sub: argparse._SubParsersAction, api_default: str) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("plan", help="show the freezes that would cover a case; --execute places them")
    p.add_argument("case", help="case number, e.g. '(2025)冀0108执4502号'")
    p.add_argument("--execute", action="store_true", help="place the planned freezes (in one transaction)")
    _documents_args(p, required=False)
    _common(p, api_default)
    p.set_defaults(func=_runner("plan", plan))

    p = sub.add_parser("order", help="place a freeze, freeze-and-deduct, continue, unfreeze or deduct order")
    kinds = p.add_subparsers(dest="type", required=True, metavar="TYPE")
    q = kinds.add_parser("freeze", help="freeze an asset a report of the case found")
    q.add_argument("case", help="case number")
    q.add_argument("--institution", required=True, help="where the asset is, e.g. bank-03 (as in the report)")
    q.add_argument("--asset", required=True, help="the asset's id as in the report: account, wallet, unit number, plate, holding or claim number")
    q.add_argument("--kind", choices=tuple(MAX_TERM_DAYS), help="asset kind (default: what the institution holds)")
    q.add_argument("--amount", type=parse_yuan, help="yuan to freeze, e.g. 12,345.67 (money: deposits, wallets, court claims)")
    q.add_argument("--quantity", type=positive, help="shares to freeze (securities)")
    q.add_argument("--term-days", type=positive, help="term (default: the legal maximum for the kind)")
    q = kinds.add_parser("freeze-deduct", help="freeze and deduct free money at once (冻结并扣划); a second officer approves it")
    q.add_argument("case", help="case number")
    q.add_argument("--institution", required=True, help="where the account is, e.g. bank-03 (as in the report)")
    q.add_argument("--asset", required=True, help="the account or wallet id as in the report")
    q.add_argument("--kind", choices=MONEY_KINDS, help="asset kind (default: what the institution holds)")
    q.add_argument("--amount", type=parse_yuan, required=True, help="yuan to take, e.g. 12,345.67 (at most what is free)")
    q.add_argument("--account", help="the court's 执行款专户 (default: the case's, from the court directory)")
    for name, what in (("continue", "extend a freeze (续冻)"), ("unfreeze", "release a freeze (解冻)"),
                       ("deduct", "deduct frozen money to the court's account (扣划); a second officer approves it")):
        q = kinds.add_parser(name, help=what)
        q.add_argument("freeze", help="the freeze order's id")
        if name == "continue":
            q.add_argument("--term-days", type=positive, required=True, help="how many days more")
        if name == "unfreeze":
            q.add_argument("--quantity", type=positive, help="securities: release only so many shares (default: all)")
        if name == "deduct":
            q.add_argument("--amount", type=parse_yuan, help="yuan to deduct (default: all the freeze holds)")
            q.add_argument("--account", help="the court's 执行款专户 (default: the case's, from the court directory)")
    for q in kinds.choices.values():
        _documents_args(q)
        q.add_argument("--wait", type=float, default=0, metavar="S", help="wait up to S seconds for the institution's answer")
        _common(q, api_default)
        q.set_defaults(func=_runner("order", order))

    p = sub.add_parser("restrict", help="restrict a debtor's high consumption (限制高消费) or list him as dishonest (失信) at "
                                        "every airline and the railway; --lift lifts it (解除限制)")
    p.add_argument("case", help="case number, e.g. '(2025)冀0108执4502号'")
    p.add_argument("--debtor", required=True, help="the debtor's resident ID (a natural person of the case)")
    p.add_argument("--measure", choices=RESTRICTING, help="required to restrict; with --lift, lifts only this one")
    p.add_argument("--lift", action="store_true", help="lift the debtor's restrictions of the case where they are in force")
    p.add_argument("--wait", type=float, default=0, metavar="S", help="wait up to S seconds for every carrier's answer")
    _documents_args(p)
    _common(p, api_default)
    p.set_defaults(func=_runner("restrict", restrict))

    p = sub.add_parser("approve", help="approve a colleague's deduction (needs a token with the deduct role)")
    p.add_argument("order_id")
    p.add_argument("--wait", type=float, default=0, metavar="S", help="wait up to S seconds for the institution's answer")
    _common(p, api_default)
    p.set_defaults(func=_runner("approve", approve))

    p = sub.add_parser("decline", help="decline a colleague's deduction, saying why (it is never sent)")
    p.add_argument("order_id")
    p.add_argument("--reason", required=True, help="why, for the order's audit trail")
    _common(p, api_default)
    p.set_defaults(func=_runner("decline", decline))

    p = sub.add_parser("orders", help="list your court's orders, newest first")
    p.add_argument("--case", help="only this case's")
    p.add_argument("--awaiting-approval", action="store_true", help="only deductions waiting for a second officer")
    p.add_argument("--status", choices=ORDER_STATUSES, help="only orders in this state")
    p.add_argument("--type", choices=get_args(OrderType), help="only orders of this type")
    p.add_argument("--limit", type=positive, default=100, help="at most this many (1-500, default 100)")
    _common(p, api_default)
    p.set_defaults(func=_runner("orders", orders))

    p = sub.add_parser("cases", help="list your court's cases with what each has frozen and collected")
    p.add_argument("--limit", type=positive, default=100, help="at most this many (1-500, default 100)")
    _common(p, api_default)
    p.set_defaults(func=_runner("cases", cases))
