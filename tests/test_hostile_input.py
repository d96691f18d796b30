"""Hostile and messy text: control characters, ANSI and OSC escapes, bidirectional overrides and
unassigned code points are refused with a 422 naming the field (and the line of a batch), and
whatever reaches a terminal is printed inert."""

from __future__ import annotations

import csv
import io
import re

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.assets import ASSET_KINDS
from schemas.debtor import Debtor
from schemas.text import BIDI_CONTROLS, refused_character
from tests.helpers import CASE, case_body, debtor_json, order_body, watch_body

OSC_TITLE = "\x1b]0;pwned\x07"  # retitles a terminal
HOSTILE = {
    "escape": "张\x1b[31m三",
    "osc": f"张{OSC_TITLE}三",
    "rlo": "张\u202e三",
    "isolate": "张\u2066三",
    "mark": "张\u200f三",
    "nul": "张\x00三",
    "newline": "张\n三",
    "c1": "张\x9b三",
    "unassigned": "张\U000e0080三",
}


@pytest.fixture
def person(population):  # type: ignore[no-untyped-def]
    return next(d for d in population.debtors if d.kind == "person")


async def _refused(api, path: str, **kwargs) -> list[dict]:  # type: ignore[no-untyped-def]
    async with api.post(path, **kwargs) as r:
        body = await r.json()
        assert r.status == 422, (path, r.status, body)
        return body["errors"]


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_a_debtor_name_with_hostile_characters_is_refused_naming_it(api, population, person, credential, kind: str) -> None:
    debtor = {**debtor_json(person), "name": HOSTILE[kind]}
    other = next(d for d in population.debtors if d.kind == "person" and d.id_number != person.id_number)
    errors = await _refused(api, "/v1/inquiries", json=case_body([debtor_json(other), debtor], credential))
    assert [e["field"] for e in errors] == ["debtors[1].name"]
    assert "U+" in errors[0]["message"] and "position 2" in errors[0]["message"]


async def test_every_free_text_field_of_every_body_is_checked(api, person, credential) -> None:
    case, court = CASE["case_number"], CASE["court"]
    asset = {"institution_id": "bank-01", "kind": "deposit", "account_no": "6222000000000000"}
    cases = [
        ("/v1/inquiries", case_body([debtor_json(person)], credential, applicant=HOSTILE["rlo"]), "applicant"),
        ("/v1/inquiries", case_body([debtor_json(person)], credential, notice_number=HOSTILE["osc"]), "notice_number"),
        ("/v1/inquiries", case_body([debtor_json(person)], credential, court=HOSTILE["mark"]), "court"),
        (f"/v1/cases/{case}/amendments", {"court": court, "amount_due_fen": 1, "ruling_number": "r-1",
                                          "reason": HOSTILE["newline"]}, "reason"),
        ("/v1/orders", order_body("freeze", case, court, asset, credential, amount_fen=1, term_days=30,
                                  ruling_number=HOSTILE["isolate"]), "ruling_number"),
        ("/v1/orders", order_body("freeze", case, court, {**asset, "account_no": HOSTILE["escape"]}, credential,
                                  amount_fen=1, term_days=30), "asset.id"),
        (f"/v1/cases/{case}/freeze-plan", {"court": court, "ruling_number": "r-1", "notice_number": "n-1",
                                           "officer_credentials": [credential], "operator": HOSTILE["unassigned"]}, "operator"),
        ("/v1/watches", watch_body(case, person, idempotency_key="k" * 8 + HOSTILE["nul"]), "idempotency_key"),
    ]
    for path, body, field in cases:
        errors = await _refused(api, path, json=body)
        assert field in [e["field"] for e in errors], (path, field, errors)


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def test_a_batch_names_the_line_and_field_of_hostile_text(api, population, credential) -> None:
    people = [d for d in population.debtors if d.kind == "person"][:3]
    rows = [{"case_number": CASE["case_number"], "court": CASE["court"], "amount_due_fen": CASE["amount_due_fen"],
             "notice_number": CASE["notice_number"], "officer_credentials": credential, "id_number": d.id_number,
             "name": d.name} for d in people]
    rows[1]["name"] = HOSTILE["osc"]
    errors = await _refused(api, "/v1/inquiry-batches", data=_csv(rows), headers={"Content-Type": "text/csv"})
    assert [(e["line"], e["field"]) for e in errors] == [(3, "debtor.name")]  # line 1 is the header
    json_rows = [{**CASE, "officer_credentials": [credential], "debtor": debtor_json(d)} for d in people]
    json_rows[2]["debtor"]["name"] = HOSTILE["rlo"]
    errors = await _refused(api, "/v1/inquiry-batches", data=b"\n".join(orjson.dumps(r) for r in json_rows),
                            headers={"Content-Type": "application/x-ndjson"})
    assert [(e["line"], e["field"]) for e in errors] == [(3, "debtor.name")]


def test_ordinary_names_pass() -> None:
    for name in ("张三", "欧阳娜娜", "阿卜杜热合曼·买买提", "石家庄市某某建筑工程有限公司（分公司）", "O'Brien-Smith", "Zoë 👩‍👩‍👧"):
        assert Debtor(kind="person", id_number="11010519491231002X", name=name).name == name


@given(st.text(max_size=30))
def test_the_rule_refuses_exactly_the_forbidden_characters(text: str) -> None:
    import unicodedata

    bad = [c for c in text if c in BIDI_CONTROLS or unicodedata.category(c) in ("Cc", "Cn", "Cs", "Zl", "Zp")]
    assert (refused_character(text) is None) == (not bad)


# -- printed inert ------------------------------------------------------------------------------

MARKUP = "[blink][link=https://evil.example]点此[/link]"


def _hostile_report() -> dict:
    """A report as the gateway might hold one from before the rule, or as an institution told it."""
    name = f"张三{OSC_TITLE}\x1b[2J{MARKUP}\u202e伪造"
    deposit = {"kind": "deposit", "institution_id": "bank-01", "account_no": "6222\x1b[8m0001", "account_type": f"活期{MARKUP}",
               "value_fen": 100, "share_percent": 100,
               "control": [{"status": "applied", "held_fen": 50, "court": f"法院\x9b31m{MARKUP}", "end_date": "2026-01-01",
                            "queue_position": None}]}
    vehicle = {"kind": "vehicle", "institution_id": "vehicle-01", "plate": "冀A\u2066123", "model": f"[bold]X{OSC_TITLE}",
               "vin": "LVS\x07", "value_fen": 5, "control": []}
    empty: dict[str, list] = {kind: [] for kind in ASSET_KINDS}
    return {
        "id": "inq-1", "status": "completed", "created_at": "2025-01-01T00:00:00+08:00", "completed_at": None,
        "case": {"case_number": "(2025)冀0108执1号", "court": f"法院{MARKUP}", "amount_due_fen": 1, "costs_fen": 0,
                 "notice_number": f"n{OSC_TITLE}"},
        "reports": [{
            "debtor": {"name": name, "kind": "person", "id_number": "11010519491231002X"},
            "legs_done": 1, "legs_total": 2, "assets": {**empty, "deposit": [deposit], "vehicle": [vehicle]},
            "totals_fen": {**dict.fromkeys(ASSET_KINDS, 0), "deposit": 100, "vehicle": 5, "all": 105},
            "legs": [{"institution_id": "bank-02", "status": "failed", "reason": f"boom{OSC_TITLE}[red]x"}],
        }],
    }


@pytest.mark.parametrize("terminal", [False, True])
def test_a_report_with_escapes_and_markup_in_its_values_prints_inert(terminal: bool) -> None:
    from rich.console import Console

    from assetgw.officer import render_inquiry

    out = io.StringIO()
    render_inquiry(_hostile_report(), Console(file=out, force_terminal=terminal, color_system="standard" if terminal else None,
                                              width=300, emoji=False))
    text = out.getvalue()
    for raw in ("\x07", "\x1b]", "\x1b[2J", "\x1b[8m", "\x9b", "\u202e", "\u2066"):
        assert raw not in text, repr(raw)
    if not terminal:
        assert "\x1b" not in text  # without colour, any escape would have come from the data
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # rich's own colours (the data's were refused above)
    assert text.count(MARKUP) == 4 and "[bold]X" in text and "[red]x" in text  # shown, not interpreted
    assert "张三\\x1b]0;pwned\\x07\\x1b[2J" in text and "\\u202e伪造" in text and "冀A\\u2066123" in text


def test_ops_output_is_inert_too() -> None:
    from rich.console import Console

    from assetgw.ops.reconcile import show

    out = io.StringIO()
    show({"run_id": "r\x1b]0;x\x07", "status": "finished", "started_at": "t", "answered": 1, "questions": 1,
          "failed": {"bank-01": f"down{MARKUP}"},
          "differences": [{"institution_id": "bank-01", "subject": "[bold]s", "field": "state", "gateway": "\u202ea", "institution": "b"}]},
         Console(file=out, width=300))
    text = out.getvalue()
    assert "\x1b" not in text and "\u202e" not in text and MARKUP in text and "[bold]s" in text
