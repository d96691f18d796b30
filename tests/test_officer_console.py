"""The officer's work after the inquiry without hand-written JSON: the lists behind the console
(GET /v1/cases, GET /v1/orders — his court's only), and the same flow from the terminal as
subprocesses against the stack: plan → execute → deduct → a second officer approves → the list
shows it applied; reports filtered and ranked; ids never cut at 80 columns; institution dates in
+08:00; a released freeze holding nothing."""

from __future__ import annotations

from urllib.parse import quote

import orjson

from assetgw.stack.supervisor import free_port
from schemas.money import yuan
from tests.helpers import (
    ACCOUNT_A,
    COURT_A,
    COURT_B,
    debtor_json,
    get_json,
    has_account,
    largest_account,
    new_case_number,
    officer_token,
    open_case,
    order_body,
    pick,
    place,
    post_json,
    run_cli,
    settled,
    wait_inquiry,
)


async def officer_cli(stack, token: str, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """``assetgw ARGS`` as an officer at an 80-column terminal runs it."""
    return await run_cli(stack, *args, "--api", stack.api_url, env={"ASSETGW_TOKEN": token, "COLUMNS": "80"})


def documents(case: str, what: str) -> list[str]:
    return ["--ruling", f"{case}之{what}", "--notice", f"{case}-{what}"]


async def test_the_lists_show_the_officers_court_only_filtered_and_paged(api, officers, population, credential) -> None:
    debtor = pick(population, has_account(1_000_000))
    case, assets = await open_case(api, debtor, credential, due_fen=5_000_000)
    account = largest_account(assets)
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=200_000, term_days=90))
    status, deduction = await post_json(api, "/v1/orders", order_body(
        "deduct", case, COURT_A, account, credential, amount_fen=50_000, original_order_id=freeze["id"],
        enforcement_account=(await get_json(api, f"/v1/cases/{quote(case)}"))["enforcement_account"]))
    assert status == 202 and deduction["awaiting_approval"], deduction

    mine = await get_json(api, f"/v1/orders?case_number={quote(case)}")
    assert [o["id"] for o in mine["orders"]] == [deduction["id"], freeze["id"]] and "history" not in mine["orders"][0]
    waiting = await get_json(api, "/v1/orders?awaiting_approval=true&limit=500")
    assert deduction["id"] in [o["id"] for o in waiting["orders"]] and freeze["id"] not in [o["id"] for o in waiting["orders"]]
    assert all(o["awaiting_approval"] for o in waiting["orders"])
    applied = await get_json(api, f"/v1/orders?case_number={quote(case)}&status=applied&type=freeze")
    assert [o["id"] for o in applied["orders"]] == [freeze["id"]]
    first = await get_json(api, f"/v1/orders?case_number={quote(case)}&limit=1")
    rest = await get_json(api, f"/v1/orders?case_number={quote(case)}&limit=1&cursor={first['next_cursor']}")
    assert [o["id"] for o in first["orders"] + rest["orders"]] == [deduction["id"], freeze["id"]] and rest["next_cursor"] is None

    cases = {c["case_number"]: c for c in (await get_json(api, "/v1/cases?limit=500"))["cases"]}
    assert cases[case]["totals"]["frozen_fen"] == 200_000 and cases[case]["amount_due_fen"] == 5_000_000
    assert cases[case]["opened_at"].endswith("+08:00") and cases[case]["alerts"] == 0

    other = officers("OFFICER-B1", COURT_B)
    async with other.get(f"/v1/orders?case_number={quote(case)}") as r:
        assert r.status == 403 and (await r.json())["errors"][0]["field"] == "case_number"
    theirs = await get_json(other, "/v1/orders?limit=500")
    assert not {freeze["id"], deduction["id"]} & {o["id"] for o in theirs["orders"]}
    assert case not in {c["case_number"] for c in (await get_json(other, "/v1/cases?limit=500"))["cases"]}
    for query, field in (("status=frozen", "status"), ("type=seize", "type"), ("awaiting_approval=yes", "awaiting_approval"),
                         ("limit=0", "limit"), ("cursor=abc", "cursor")):
        async with api.get(f"/v1/orders?{query}") as r:
            assert r.status == 400 and (await r.json())["errors"][0]["field"] == field, query


async def test_a_released_freeze_holds_nothing_and_dates_read_in_shanghai(api, population, credential) -> None:
    debtor = pick(population, has_account(1_000_000))
    case, assets = await open_case(api, debtor, credential, due_fen=5_000_000)
    account = largest_account(assets)
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=300_000, term_days=30))
    assert freeze["result"]["held_fen"] == 300_000
    assert freeze["result"]["start_date"].endswith("+08:00") and freeze["result"]["end_date"].endswith("+08:00")
    answered = next(e for e in freeze["history"] if e["event"] == "answered")
    assert answered["detail"]["end_date"] == freeze["result"]["end_date"]  # the trail reads the same instant
    unfreeze = await place(api, order_body("unfreeze", case, COURT_A, account, credential, original_order_id=freeze["id"]))
    assert unfreeze["status"] == "applied"
    released = await get_json(api, f"/v1/orders/{freeze['id']}")
    assert (released["status"], released["result"]["held_fen"]) == ("released", 0)
    totals = (await get_json(api, f"/v1/cases/{quote(case)}"))["totals"]
    assert (totals["frozen_fen"], totals["released_fen"]) == (0, 300_000)


async def test_an_officers_flow_from_the_terminal(stack, api, population, credential) -> None:
    debtor = pick(population, has_account(2_000_000))
    case, _ = await open_case(api, debtor, credential, due_fen=500_000)
    operator = officer_token(stack, "OFFICER-A1")
    checker = officer_token(stack, "OFFICER-A2", roles=("officer", "deduct"))

    code, out, err = await officer_cli(stack, operator, "plan", case)  # a preview places nothing
    assert code == 0, err
    assert "¥5,000.00" in out and "to place these" in out
    assert (await get_json(api, f"/v1/orders?case_number={quote(case)}"))["orders"] == []
    code, out, err = await officer_cli(stack, operator, "plan", case, "--execute", *documents(case, "一"), "--json")
    assert code == 0, err
    assert "idempotency key cli-" in err
    plan = orjson.loads(out)
    [freeze_id] = plan["order_ids"]
    freeze = await settled(api, freeze_id)
    assert freeze["status"] == "applied" and freeze["amount_fen"] == 500_000

    code, out, err = await officer_cli(stack, operator, "order", "deduct", freeze_id, "--amount", "1,234.56",
                                       *documents(case, "二"), "--json")
    assert code == 0, err
    deduction = orjson.loads(out)
    assert deduction["awaiting_approval"] and deduction["amount_fen"] == 123_456
    assert deduction["enforcement_account"] == ACCOUNT_A  # the case's court's 执行款专户, from the case
    code, out, err = await officer_cli(stack, checker, "orders", "--awaiting-approval")
    assert code == 0, err
    assert deduction["id"] in out  # 32 characters, whole, at 80 columns
    code, _, err = await officer_cli(stack, operator, "approve", deduction["id"])  # the operator may not approve his own
    assert code == 1 and "two-person rule" in err and "Traceback" not in err
    code, out, err = await officer_cli(stack, checker, "approve", deduction["id"], "--wait", "30", "--json")
    assert code == 0, err
    approved = orjson.loads(out)
    assert approved["checker"] == "OFFICER-A2" and approved["status"] == "applied"

    code, out, err = await officer_cli(stack, checker, "orders", "--case", case)
    assert code == 0, err
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if deduction["id"] in line)  # ids whole at 80 columns
    assert "deduct" in lines[row] and "applied" in lines[row + 1], out
    assert freeze_id in out and "held ¥3,765.44" in out  # the freeze holds what the deduction left
    code, out, err = await officer_cli(stack, operator, "cases", "--json")
    [listed] = [c for c in orjson.loads(out)["cases"] if c["case_number"] == case]
    assert listed["totals"]["collected_fen"] == 123_456


async def test_report_filters_rank_and_keep_ids_whole(stack, api, population, credential) -> None:
    rich = pick(population, lambda assets: {"real_estate", "deposit", "equity", "fund_account"} <= {a.kind for a in assets})
    poorer = pick(population, has_account(100))
    nothing = pick(population, lambda assets: not assets)
    case = new_case_number()
    body = {"case_number": case, "court": COURT_A, "amount_due_fen": 1_000_000, "costs_fen": 0, "notice_number": f"{case}-查",
            "officer_credentials": [credential], "debtors": [debtor_json(d) for d in (nothing, poorer, rich)]}
    status, accepted = await post_json(api, "/v1/inquiries", body)
    assert status == 202, accepted
    inquiry = await wait_inquiry(api, accepted["location"])
    totals = {r["debtor"]["id_number"]: r["totals_fen"]["all"] for r in inquiry["reports"]}
    token = officer_token(stack)

    async def shown(*args: str) -> list[str]:
        code, out, err = await officer_cli(stack, token, "report", accepted["id"], *args, "--json")
        assert code == 0, err
        return [r["debtor"]["id_number"] for r in orjson.loads(out)["reports"]]

    assert await shown() == [nothing.id_number, poorer.id_number, rich.id_number]
    assert await shown("--only-found") == [poorer.id_number, rich.id_number]
    assert await shown("--top", "2") == sorted(totals, key=lambda d: -totals[d])[:2]
    assert await shown("--debtor", poorer.id_number) == [poorer.id_number]

    code, out, err = await officer_cli(stack, token, "report", accepted["id"], "--debtor", rich.id_number)
    assert code == 0, err
    units = [a["unit_no"] for r in inquiry["reports"] for a in r["assets"]["real_estate"]]
    assert units and all(len(u) == 28 and u in out for u in units), out  # whole at 80 columns, ready to paste
    [shown_report] = [r for r in inquiry["reports"] if r["debtor"]["id_number"] == rich.id_number]
    holdings = [a["holding_no"] for a in shown_report["assets"]["equity"]]
    funds = [a["account_no"] for a in shown_report["assets"]["fund_account"]]
    assert holdings and funds and all(h in out for h in holdings + funds), out
    values = [yuan(a["value_fen"]) for assets in shown_report["assets"].values() for a in assets]
    assert values and all(v in out for v in values), out  # money whole at 80 columns, and the institutions
    assert all(a["institution_id"] in out for assets in shown_report["assets"].values() for a in assets), out
    assert "股权 Equity in companies" in out and "公积金与社保" in out, out
    assert poorer.name not in out and "shown 1 of 3 debtors" in out


async def test_a_gateway_out_of_reach_is_one_line_saying_what_to_do(stack) -> None:
    code, _, err = await run_cli(stack, "orders", "--api", f"http://127.0.0.1:{free_port()}",
                                   env={"ASSETGW_TOKEN": officer_token(stack)})
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "cannot reach the gateway" in err and "assetgw up" in err
    code, _, err = await run_cli(stack, "approve", "x" * 32, "--api", stack.api_url, env={"ASSETGW_TOKEN": ""})
    assert code == 2 and "no token" in err and "Traceback" not in err
