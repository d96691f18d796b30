"""Authority and legal limits through the running stack: the role each route needs, courts known
by code, strict money and identifiers, deductions only into the court's own account."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import aiohttp
import orjson
import pytest

from gateway.http.access import PUBLIC, ROUTE_ROLES, RateLimiter, is_console
from gateway.http.app import create_app
from gateway.http.auth import TokenAuthority
from gateway.inquiries.intake import Intake
from gateway.orders.desk import OrderDesk
from gateway.store.factory import open_store
from schemas.courts import Courts
from schemas.directory import Directory
from tests.helpers import (
    ACCOUNT_A,
    CASE,
    COURT_A,
    COURT_B,
    LIVING_ALLOWANCE_FEN,
    case_body,
    debtor_json,
    get_json,
    has_account,
    officer_session,
    open_case,
    order_body,
    pick,
    place,
    post_json,
    settled,
    wait_inquiry,
)

COURTS = Courts.built_in()
ROLE_SETS = {"no role": (), "officer": ("officer",), "deduct": ("deduct",), "ops": ("ops",)}


async def audit(api: aiohttp.ClientSession) -> list[dict]:
    return await get_json(api, "/v1/ops/access-audit")


def test_every_route_of_the_app_is_in_the_role_table(tmp_path) -> None:
    store = open_store(tmp_path / "g.sqlite3")
    directory, courts = Directory.from_counts(), Courts.built_in()
    desk = OrderDesk(store, directory, courts, 60, lambda: None)
    app = create_app(store, Intake(store.inquiries, store.cases, directory, 60, lambda: None), desk, directory, courts,
                     TokenAuthority(b"x" * 32), RateLimiter(rate=1, burst=1))
    routes = {(r.method, r.resource.canonical) for r in app.router.routes()
              if r.method != "HEAD" and not is_console(r.resource.canonical)}  # the console's pages call these routes
    assert routes == set(ROUTE_ROLES) | PUBLIC


async def test_every_documented_route_with_every_role_and_none(stack) -> None:
    """Walks the OpenAPI document: anonymous → 401; a token without the route's role → 403 naming
    it; with the role, whatever the request deserves (never 401 or 403)."""
    async with aiohttp.ClientSession(stack.api_url) as anonymous:
        async with anonymous.get("/v1/openapi.json") as r:
            document = await r.json()
        sessions = {name: officer_session(stack, f"OFFICER-ROLE-{i}", CASE["court"], roles)
                    for i, (name, roles) in enumerate(ROLE_SETS.items())}
        try:
            for template, operations in document["paths"].items():
                path = re.sub(r"\{[^}]+\}", "x", template)
                for method, _operation in operations.items():
                    route = (method.upper(), template)
                    async with anonymous.request(method, path, json={}) as r:
                        if route in PUBLIC:
                            assert r.status < 400, route
                            continue
                        assert r.status == 401, route
                    needed = ROUTE_ROLES[route]
                    for name, session in sessions.items():
                        async with session.request(method, path, json={}) as r:
                            body = await r.read()
                            if needed in ROLE_SETS[name]:
                                assert r.status not in (401, 403), (route, name, body)
                            else:
                                assert r.status == 403, (route, name, body)
                                assert orjson.loads(body)["message"] == f"the {needed} role is needed"
        finally:
            for session in sessions.values():
                await session.close()


async def test_an_ops_token_may_neither_inquire_nor_freeze(stack, api, population, credential) -> None:
    """Once an ops-only token placed freezes the banks applied."""
    debtor = pick(population, has_account(10_000))
    case, assets = await open_case(api, debtor, credential)
    freeze = order_body("freeze", case, COURT_A, _money(assets)[0], credential, amount_fen=1_000, term_days=30, operator=None)
    async with officer_session(stack, "OFFICER-OPS1", CASE["court"], ("ops",)) as ops:
        for path, body in (("/v1/inquiries", case_body([debtor_json(debtor)], credential)), ("/v1/orders", freeze)):
            async with ops.post(path, json=body) as r:
                assert r.status == 403 and (await r.json())["message"] == "the officer role is needed", path
    assert sum(1 for a in await audit(api) if a["officer"] == "OFFICER-OPS1" and a["status"] == 403) == 2
    assert (await get_json(api, f"/v1/cases/{case}"))["totals"]["frozen_fen"] == 0


async def test_a_token_whose_court_name_and_code_disagree_is_refused(stack, api) -> None:
    # 长安区's name with 裕华区's code: once this read 裕华区's cases.
    token = stack.token("OFFICER-MIX", "石家庄市长安区人民法院", "冀0108", ["officer", "deduct", "ops"])
    async with aiohttp.ClientSession(stack.api_url, headers={"Authorization": f"Bearer {token}"}) as mixed, mixed.get("/v1/institutions") as r:
        assert r.status == 401 and "court directory" in (await r.json())["message"]
    assert any(a["officer"] == "OFFICER-MIX" and a["status"] == 401 for a in await audit(api))


async def test_a_case_of_an_unknown_court_code_is_refused_naming_the_case_number(api, population, credential) -> None:
    debtor = next(d for d in population.debtors if d.kind == "person")
    body = case_body([debtor_json(debtor)], credential, case_number="(2025)冀0999执1号", notice_number="n-1")
    async with api.post("/v1/inquiries", json=body) as r:
        answer = await r.json()
    assert r.status == 422 and answer["errors"][0]["field"] == "case_number", answer
    assert "冀0999" in answer["message"]


async def test_the_court_named_in_a_body_must_be_the_case_numbers_court(api, population, credential) -> None:
    debtor = next(d for d in population.debtors if d.kind == "person")
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential, court="裕华区法院")) as r:
        answer = await r.json()
    assert r.status == 422 and answer["errors"][0]["field"] == "court", answer


@pytest.mark.parametrize("amount", [True, 1000.0, "1000", 0, -5, 10**15 + 1, 2**63])
async def test_fen_amounts_are_json_integers_within_range(api, population, credential, amount) -> None:
    debtor = next(d for d in population.debtors if d.kind == "person")
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential, amount_due_fen=amount)) as r:
        answer = await r.json()
    assert r.status == 422 and answer["errors"][0]["field"] == "amount_due_fen", (amount, answer)


async def test_a_json_exponent_is_a_float_and_refused(api, population, credential) -> None:
    debtor = next(d for d in population.debtors if d.kind == "person")
    raw = orjson.dumps(case_body([debtor_json(debtor)], credential, amount_due_fen=0)).replace(b'"amount_due_fen":0', b'"amount_due_fen":1e3')
    async with api.post("/v1/inquiries", data=raw, headers={"Content-Type": "application/json"}) as r:
        answer = await r.json()
    assert r.status == 422 and answer["errors"][0]["field"] == "amount_due_fen", answer


async def test_full_width_identifiers_mean_the_same_debtor_and_case(api, population, credential, simulators) -> None:
    """A full-width digit in a resident ID once passed validation and found nothing; a full-width
    case number in the freeze-plan URL was refused as another court's."""
    debtor = next(d for d in population.debtors if d.kind == "person" and population.assets_of(d.id_number))
    wide_id = chr(ord(debtor.id_number[0]) - ord("0") + ord("０")) + debtor.id_number[1:]
    number = 7000 + uuid.uuid4().int % 999
    wide_case = f"（２０２５）冀０１０８执{number}号"
    body = case_body([{"kind": "person", "id_number": wide_id, "name": debtor.name}], credential,
                     case_number=wide_case, notice_number=f"{number}-查")
    async with api.post("/v1/inquiries", json=body) as r:
        accepted = await r.json()
        assert r.status == 202, accepted
    report = (await wait_inquiry(api, accepted["location"]))["reports"][0]
    assert report["debtor"]["id_number"] == debtor.id_number
    found = sorted((a["institution_id"], a["kind"]) for assets in report["assets"].values() for a in assets)
    truth = sorted((a["institution_id"], a["kind"]) for a in await simulators.truth(debtor.id_number))
    assert found == truth and found
    plan_body = {"court": CASE["court"], "ruling_number": f"{number}之一", "notice_number": f"{number}-协执",
                 "officer_credentials": [credential]}
    async with api.post(f"/v1/cases/{wide_case}/freeze-plan", json=plan_body) as r:
        plan = await r.json()
        assert r.status == 200, plan
    assert plan["case_number"] == f"(2025)冀0108执{number}号"


async def test_a_deduction_pays_only_into_the_courts_enforcement_fund_account(api, credential) -> None:
    deduct = {"type": "deduct", "case_number": CASE["case_number"], "court": CASE["court"], "institution_id": "bank-01",
              "asset": {"kind": "deposit", "id": "6222000000000000"}, "amount_fen": 100, "original_order_id": "x",
              "enforcement_account": "个人账户-not-a-court-account", "ruling_number": "r", "notice_number": "n",
              "officer_credentials": [credential], "idempotency_key": uuid.uuid4().hex}
    async with api.post("/v1/orders", json=deduct) as r:
        answer = await r.json()
    assert r.status == 422 and answer["errors"][0]["field"] == "enforcement_account", answer
    assert COURTS.by_code["冀0108"].enforcement_account in answer["message"]


def test_the_readme_states_the_role_table_of_the_code() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Who may do what"):readme.index("## Guides")]
    stated: dict[tuple[str, str], str] = {}
    for row in section.splitlines():
        match = re.match(r"^\| (`(\w+)`|none \(public\)) \| (.+) \|$", row)
        if match:
            for method, route in re.findall(r"`(GET|POST) (\S+)`", match.group(3)):
                stated[(method, route)] = match.group(2) or "public"
    assert stated == {**ROUTE_ROLES, **dict.fromkeys(PUBLIC, "public")}


def test_property_beyond_what_remains_is_the_least_excess() -> None:
    """10,000 yuan left to cover, units worth 388,390.59 and 2,001,551.99 yuan: the plan once froze
    the 2-million unit."""
    from gateway.orders.freeze_plan import plan_freezes

    def unit(no: str, fen: int) -> dict:
        return {"kind": "real_estate", "institution_id": "land-01", "unit_no": no, "value_fen": fen, "share_percent": 100}

    found = [("D", unit("BIG", 200_155_199)), ("D", unit("SMALL", 38_839_059)),
             ("D", {"kind": "deposit", "institution_id": "bank-01", "account_no": "6222", "value_fen": 500_000})]
    plan = plan_freezes(found, set(), 1_500_000)
    assert [(o["asset"]["id"], o["amount_fen"]) for o in plan.orders] == [("6222", 500_000), ("SMALL", None)]
    assert "超出 ¥378,390.59" in plan.orders[1]["reason"] and plan.orders[0]["reason"]
    # When no single unit covers what remains, the most valuable goes first, then the least excess.
    plan = plan_freezes(found, set(), 230_000_000)
    assert [o["asset"]["id"] for o in plan.orders] == ["6222", "BIG", "SMALL"]


# --- what a case may take ----------------------------------------------------------------------

def _money(assets: list[dict], kind: str = "deposit") -> list[dict]:
    return sorted((a for a in assets if a["kind"] == kind and not a.get("protected")), key=lambda a: -a["value_fen"])


async def test_a_new_inquiry_cannot_raise_what_a_case_may_take(api, population, credential) -> None:
    """Re-inquiring a 200,000-fen case with 50,000,000 due once allowed a 10,000,000-fen freeze."""
    debtor = pick(population, has_account(400_000))
    case, assets = await open_case(api, debtor, credential, due_fen=200_000)
    again = {"case_number": case, "court": COURT_A, "amount_due_fen": 50_000_000, "costs_fen": 0,
             "notice_number": f"{case}-查2", "officer_credentials": [credential], "debtors": [debtor_json(debtor)]}
    status, answer = await post_json(api, "/v1/inquiries", again)
    assert status == 409 and answer["errors"][0]["field"] == "amount_due_fen", answer
    account = _money(assets)[0]
    status, answer = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, account, credential,
                                                                   amount_fen=200_001, term_days=30))
    assert status == 422 and answer["errors"][0]["field"] == "amount_fen", answer
    case_view = await get_json(api, f"/v1/cases/{case}")
    assert (case_view["amount_due_fen"], case_view["totals"]["frozen_fen"]) == (200_000, 0)
    assert [e["event"] for e in case_view["history"]] == ["opened"]


async def test_an_amendment_changes_what_a_case_may_take_and_is_audited(api, population, credential) -> None:
    debtor = pick(population, has_account(400_000))
    case, assets = await open_case(api, debtor, credential, due_fen=200_000)
    amendment = {"court": COURT_A, "amount_due_fen": 300_000, "ruling_number": f"{case}之二", "reason": "interest added"}
    status, amended = await post_json(api, f"/v1/cases/{case}/amendments", amendment)
    assert status == 200 and amended["amount_due_fen"] == 300_000, amended
    assert amended["history"][-1]["event"] == "amended" and amended["history"][-1]["actor"] == "OFFICER-A1"
    assert amended["history"][-1]["detail"]["amount_due_fen"] == {"from": 200_000, "to": 300_000}
    assert (amended["opened_by"], amended["history"][0]["event"]) == ("OFFICER-A1", "opened")
    order = await place(api, order_body("freeze", case, COURT_A, _money(assets)[0], credential, amount_fen=300_000, term_days=30))
    assert order["status"] in ("applied", "partially_applied"), order


async def test_collected_money_counts_against_over_freezing(api, officers, simulators, population, credential) -> None:
    """Freeze 200,000, deduct it, unfreeze: a new 200,000 freeze was accepted, and the plan planned
    the whole amount again."""
    debtor = pick(population, lambda assets: sum(1 for a in assets if a.kind == "deposit" and not a.protected
                                                 and a.value_fen >= 250_000) >= 2)
    case, assets = await open_case(api, debtor, credential, due_fen=200_000)
    first, second = _money(assets)[:2]
    approver = officers("OFFICER-A2", COURT_A)
    freeze = await place(api, order_body("freeze", case, COURT_A, first, credential, amount_fen=200_000, term_days=30))
    assert freeze["status"] == "applied", freeze
    status, deduct = await post_json(api, "/v1/orders", order_body(
        "deduct", case, COURT_A, first, credential, amount_fen=200_000, original_order_id=freeze["id"], enforcement_account=ACCOUNT_A))
    assert status == 202, deduct
    status, _ = await post_json(approver, f"/v1/orders/{deduct['id']}/approve", {})
    assert status == 200
    assert (await settled(api, deduct["id"]))["status"] == "applied"
    unfreeze = await place(api, order_body("unfreeze", case, COURT_A, first, credential, original_order_id=freeze["id"]))
    assert unfreeze["status"] == "applied", unfreeze
    status, answer = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, second, credential,
                                                                   amount_fen=200_000, term_days=30))
    assert status == 422 and answer["errors"][0]["field"] == "amount_fen", answer
    plan = {"court": COURT_A, "ruling_number": f"{case}之二", "notice_number": f"{case}-协执2", "officer_credentials": [credential]}
    status, planned = await post_json(api, f"/v1/cases/{case}/freeze-plan", plan)
    assert status == 200 and planned["collected_fen"] == 200_000 and planned["orders"] == [], planned
    ledger = await simulators.ledger(second["institution_id"], second["account_no"])
    assert [f for f in ledger["freezes"] if f["state"] == "active"] == []  # nothing reached the second account
    totals = (await get_json(api, f"/v1/cases/{case}"))["totals"]
    assert (totals["collected_fen"], totals["frozen_fen"], totals["remaining_fen"]) == (200_000, 0, 0)


async def test_continuations_cannot_be_stacked_beyond_one_term(api, simulators, population, credential) -> None:
    """Three 730-day continuations of a 30-day vehicle freeze, all on day 0, once ran it into 2032."""
    debtor = pick(population, lambda assets: any(a.kind == "vehicle" for a in assets))
    case, assets = await open_case(api, debtor, credential)
    vehicle = next(a for a in assets if a["kind"] == "vehicle")
    freeze = await place(api, order_body("freeze", case, COURT_A, vehicle, credential, term_days=30))
    assert freeze["status"] == "applied", freeze
    status, answer = await post_json(api, "/v1/orders", order_body("continue", case, COURT_A, vehicle, credential,
                                                                   term_days=730, original_order_id=freeze["id"]))
    assert status == 422 and answer["errors"][0]["field"] == "term_days", answer
    ok = await place(api, order_body("continue", case, COURT_A, vehicle, credential, term_days=690, original_order_id=freeze["id"]))
    assert ok["status"] == "applied", ok
    status, answer = await post_json(api, "/v1/orders", order_body("continue", case, COURT_A, vehicle, credential,
                                                                   term_days=30, original_order_id=freeze["id"]))
    assert status == 422 and answer["errors"][0]["field"] == "term_days", answer


async def test_idempotency_keys_belong_to_one_court(api, officers, population, credential) -> None:
    """One court's freeze-plan key once returned another court's order ids."""
    key = uuid.uuid4().hex
    debtor_a = pick(population, has_account(100_000))
    case_a, _ = await open_case(api, debtor_a, credential, due_fen=50_000)
    plan = {"ruling_number": "r", "notice_number": "n", "officer_credentials": [credential], "execute": True, "idempotency_key": key}
    status, placed_a = await post_json(api, f"/v1/cases/{case_a}/freeze-plan", {**plan, "court": COURT_A})
    assert status == 202 and placed_a["order_ids"], placed_a
    court_b = officers("OFFICER-B1", COURT_B)
    debtor_b = pick(population, has_account(100_000))
    case_b, _ = await open_case(court_b, debtor_b, credential, court=COURT_B, due_fen=50_000)
    status, placed_b = await post_json(court_b, f"/v1/cases/{case_b}/freeze-plan", {**plan, "court": COURT_B})
    assert status == 202 and placed_b["order_ids"] and not set(placed_b["order_ids"]) & set(placed_a["order_ids"]), placed_b


async def test_a_persons_living_allowance_stays_free(api, population, credential) -> None:
    """A natural person's whole balance was once frozen and deducted."""
    debtor = pick(population, lambda assets: [a.kind for a in assets if a.kind == "deposit" and not a.protected] == ["deposit"]
                  and any(a.kind == "deposit" and not a.protected and a.value_fen >= 50_000 for a in assets)
                  and not any(a.kind == "wallet" for a in assets))
    case, assets = await open_case(api, debtor, credential)
    (account,) = _money(assets)
    status, answer = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, account, credential,
                                                                   amount_fen=account["value_fen"], term_days=30))
    assert status == 422 and answer["errors"][0]["field"] == "amount_fen" and "living allowance" in answer["message"], answer
    plan = {"court": COURT_A, "ruling_number": "r", "notice_number": "n", "officer_credentials": [credential]}
    status, planned = await post_json(api, f"/v1/cases/{case}/freeze-plan", plan)
    deposits = [o for o in planned["orders"] if o["asset"]["kind"] == "deposit"]
    assert status == 200 and [o["amount_fen"] for o in deposits] == [account["value_fen"] - LIVING_ALLOWANCE_FEN], planned
    assert planned["kept_for_living"][0]["kept_fen"] == LIVING_ALLOWANCE_FEN


async def test_social_insurance_and_provident_fund_accounts_are_skipped_by_the_plan(api, population, credential) -> None:
    debtor = pick(population, lambda assets: any(a.kind == "deposit" and a.account_type in ("social_insurance", "housing_provident_fund")
                                                 for a in assets))
    case, assets = await open_case(api, debtor, credential)
    plan = {"court": COURT_A, "ruling_number": "r", "notice_number": "n", "officer_credentials": [credential]}
    status, planned = await post_json(api, f"/v1/cases/{case}/freeze-plan", plan)
    benefits = {a["account_no"]: a["protected_reason"] for a in assets if a.get("account_type") in ("social_insurance", "housing_provident_fund")}
    skipped = {s["asset"]["id"]: s["reason"] for s in planned["skipped_protected"]}
    assert status == 200 and benefits and benefits.items() <= skipped.items(), planned
    assert not {o["asset"]["id"] for o in planned["orders"]} & set(benefits)


async def test_every_refusal_of_an_officer_is_audited(api, population, credential) -> None:
    debtor = pick(population, has_account(100_000))
    case, assets = await open_case(api, debtor, credential, due_fen=100_000)
    body = order_body("freeze", case, COURT_A, _money(assets)[0], credential, amount_fen=100_001, term_days=30)
    status, _answer = await post_json(api, "/v1/orders", body)
    assert status == 422
    entry = next(a for a in await get_json(api, "/v1/ops/access-audit") if a["path"] == "/v1/orders" and a["status"] == 422)
    assert entry["officer"] == "OFFICER-A1" and "over-freezing" in entry["reason"]


async def test_the_plan_freezes_the_property_with_the_least_excess(api, population, credential) -> None:
    """With money short, the plan once took the most valuable property although a smaller one
    covered what remained (10,000 yuan left; units of 388,390.59 and 2,001,551.99 yuan)."""
    def values(assets: list, kinds: tuple[str, ...] = ("vehicle", "real_estate")) -> list[int]:
        return sorted(a.attributable_fen for a in assets if a.kind in kinds)

    def old_pick(assets: list) -> int:  # vehicles before real estate, the most valuable first
        return (values(assets, ("vehicle",)) or values(assets, ("real_estate",)))[-1]

    # A debtor for whom the old order would have frozen something bigger than needed.
    debtor = pick(population, lambda assets: len(set(values(assets))) >= 2 and values(assets)[0] > 200_000
                  and old_pick(assets) != values(assets)[0])
    truth = population.assets_of(debtor.id_number)
    money = sum(a.attributable_fen for a in truth if a.kind in ("deposit", "wallet") and not getattr(a, "protected", False))
    smallest, largest = values(truth)[0], values(truth)[-1]
    case, _ = await open_case(api, debtor, credential, due_fen=money + smallest // 2)
    plan = {"court": COURT_A, "ruling_number": "r", "notice_number": "n", "officer_credentials": [credential]}
    status, planned = await post_json(api, f"/v1/cases/{case}/freeze-plan", plan)
    assert status == 200, planned
    property_orders = [o for o in planned["orders"] if o["amount_fen"] is None]
    remaining = planned["due_fen"] - planned["covered_fen"] - sum(o["amount_fen"] for o in planned["orders"] if o["amount_fen"])
    assert remaining <= smallest < largest  # the smallest covers what remains, so it is the one
    assert [o["value_fen"] for o in property_orders] == [smallest], planned
    assert "超标的最少" in property_orders[0]["reason"]


def test_the_plan_names_only_the_persons_whose_allowance_held_a_freeze_back() -> None:
    from gateway.orders.freeze_plan import deposit_cap, plan_freezes

    def account(no: str, fen: int) -> dict:
        return {"kind": "deposit", "institution_id": "bank-01", "account_no": no, "value_fen": fen}

    found = [("RICH", account("1", 1_000_000)), ("POOR", account("2", 50_000))]
    caps = {d: deposit_cap(found, d, 0, 90_000) for d in ("RICH", "POOR")}
    covered_by_rich = plan_freezes(found, set(), 500_000, caps, 90_000)
    assert [o["amount_fen"] for o in covered_by_rich.orders] == [500_000] and covered_by_rich.kept_for_living == []
    needs_both = plan_freezes(found, set(), 2_000_000, caps, 90_000)
    assert [o["amount_fen"] for o in needs_both.orders] == [910_000]  # RICH keeps 900 yuan; POOR holds less than that
    assert {k["debtor_id_number"] for k in needs_both.kept_for_living} == {"RICH", "POOR"}
