"""Batches as officers make them, taken in without stopping the gateway for anyone else.

A large batch is read, stored and read back while other officers' requests keep being answered;
it becomes one inquiry per 1,000 debtors of a case; the files spreadsheet programs on Chinese
desktops save are read without the officer naming an encoding; debtors listed twice are asked once
(with a warning), or refused when the names disagree."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import aiohttp
import orjson

from gateway.inquiries.bulk import to_csv
from tests.helpers import COURT_A, bulk_debtors, get_json, new_case_number, post_json

CASES, PER_CASE = 8, 2500  # 20,000 rows; each case splits into ceil(2500 / 1000) = 3 inquiries


def _rows(case: str, debtors: list[Any], credential: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"case_number": case, "court": COURT_A, "amount_due_fen": 10_000_000, "costs_fen": 0,
             "notice_number": f"{case}-查", "officer_credentials": [credential], "debtor_kind": d.kind,
             "id_number": d.id_number, "name": d.name, **extra} for d in debtors]


class Prober:
    """Another officer's requests, one after another, while something runs: /healthz and a
    one-debtor inquiry, each timed."""

    def __init__(self, api: aiohttp.ClientSession, body: dict[str, Any]) -> None:
        self.api, self.body = api, body
        self.samples: list[tuple[float, float, str]] = []  # (start, seconds, what)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for what in ("healthz", "inquiry"):
                t0 = time.monotonic()
                if what == "healthz":
                    async with self.api.get("/healthz") as r:
                        assert r.status == 200
                else:
                    status, accepted = await post_json(self.api, "/v1/inquiries", self.body)
                    assert status == 202, accepted
                self.samples.append((t0, time.monotonic() - t0, what))
            await asyncio.sleep(0.02)

    def within(self, start: float, end: float) -> list[tuple[float, float, str]]:
        return [s for s in self.samples if start <= s[0] and s[0] + s[1] <= end]


async def _while_probing(api: aiohttp.ClientSession, probe_body: dict[str, Any], work: Any) -> tuple[Any, float, list]:
    """Runs ``work()`` while a prober asks; returns its result, its duration and the probes that
    started and ended within it."""
    prober, stop = Prober(api, probe_body), asyncio.Event()
    task = asyncio.create_task(prober.run(stop))
    await asyncio.sleep(0)
    start = time.monotonic()
    result = await work()
    end = time.monotonic()
    stop.set()
    await task
    return result, end - start, prober.within(start, end)


def _assert_responsive(probes: list, duration: float, what: str) -> None:
    # Before issue 15 the loop was blocked for the whole of it: the one probe waited ~duration.
    kinds = {p[2] for p in probes}
    assert kinds == {"healthz", "inquiry"}, f"no probe was answered during {what} ({duration:.1f} s): {probes}"
    slowest = max(p[1] for p in probes)
    assert slowest < duration / 2, f"a probe took {slowest:.2f} s during {what} of {duration:.1f} s"


async def test_a_large_batch_never_stops_the_api(api, population, credential) -> None:
    debtors = bulk_debtors(population, PER_CASE)
    cases = [new_case_number() for _ in range(CASES)]
    # Only the land registries, so the stack's share of the 20,000 debtors stays small for the session.
    rows = [r for case in cases for r in _rows(case, debtors, credential, institutions=["land"])]
    body = to_csv(rows).encode()
    probe_case = new_case_number()
    probe = {"case_number": probe_case, "court": COURT_A, "amount_due_fen": 10_000_000, "costs_fen": 0,
             "notice_number": f"{probe_case}-查", "officer_credentials": [credential], "institutions": ["vehicle"],
             "debtors": [{"kind": debtors[0].kind, "id_number": debtors[0].id_number, "name": debtors[0].name}]}

    async def ingest() -> dict[str, Any]:
        async with api.post("/v1/inquiry-batches", data=body, headers={"Content-Type": "text/csv"}) as r:
            assert r.status == 202, await r.text()
            return await r.json()

    accepted, ingest_s, probes = await _while_probing(api, probe, ingest)
    _assert_responsive(probes, ingest_s, "the batch's intake")
    assert accepted["debtors"] == CASES * PER_CASE
    assert accepted["inquiries"] == CASES * math.ceil(PER_CASE / 1000)
    assert accepted["legs"] == CASES * PER_CASE * 3

    batch = await get_json(api, accepted["location"])
    assert batch["rows"] == CASES * PER_CASE and batch["inquiries"]["total"] == accepted["inquiries"]

    async def read_back() -> list[dict[str, Any]]:
        async with api.get(batch["reports"]) as r:
            assert r.status == 200
            return [orjson.loads(line) async for line in r.content if line.strip()]

    reports, read_s, probes = await _while_probing(api, probe, read_back)
    _assert_responsive(probes, read_s, "the read back of its reports")
    assert len(reports) == CASES * PER_CASE
    per_inquiry: dict[str, set[str]] = {}
    for report in reports:
        per_inquiry.setdefault(report["inquiry_id"], set()).add(report["case_number"])
    assert len(per_inquiry) == accepted["inquiries"] and all(len(c) == 1 for c in per_inquiry.values())
    sizes = sorted([sum(1 for r in reports if r["inquiry_id"] == i) for i in per_inquiry], reverse=True)
    assert sizes == sorted([1000, 1000, 500] * CASES, reverse=True)


async def _post(api: aiohttp.ClientSession, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    async with api.post("/v1/inquiry-batches", data=body, headers={"Content-Type": content_type}) as r:
        return r.status, await r.json()


async def test_files_as_spreadsheet_programs_save_them(api, population, credential) -> None:
    debtors = [d for d in population.debtors if d.kind == "person"][:3]
    for encoding, separator, content_type in (("utf-8", ",", "text/csv"), ("utf-8-sig", ",", "text/csv"),
                                              ("gb18030", ",", "text/csv"), ("gbk", ",", "application/octet-stream"),
                                              ("utf-16", "\t", "text/plain")):
        case = new_case_number()
        text = to_csv(_rows(case, debtors, credential))
        if separator == "\t":  # Excel's "Unicode text": tab-separated, UTF-16 LE with a BOM
            text = text.replace(",", "\t")
        status, accepted = await _post(api, text.encode(encoding), content_type)
        assert status == 202, (encoding, accepted)
        assert accepted["encoding"] == {"gbk": "gb18030"}.get(encoding, encoding)
        assert accepted["debtors"] == 3 and accepted["warnings"] == []
        inquiry = await get_json(api, f"/v1/inquiries/{(await _inquiry_ids(api, accepted))[0]}")
        assert inquiry["case"]["case_number"] == case
        assert [r["debtor"]["name"] for r in inquiry["reports"]] == [d.name for d in debtors], encoding


async def test_a_body_in_no_accepted_encoding_is_refused_with_a_hint(api, population, credential) -> None:
    text = to_csv(_rows(new_case_number(), [d for d in population.debtors if d.kind == "person"][:2], credential))
    for body in (text.encode("utf-32"), b"case_number,name\n\xff\xfe\xfd\x80"):
        status, error = await _post(api, body, "text/csv")
        assert status == 400 and error["error"] == "invalid_encoding", error
        assert "GB18030" in error["message"] and "UTF-16" in error["message"] and "UTF-8" in error["message"]
        assert error["errors"][0]["field"] == "body" and error["errors"][0]["line"] >= 1


async def test_a_debtor_listed_twice(api, population, credential) -> None:
    a, b, c = [d for d in population.debtors if d.kind == "person"][:3]
    case = new_case_number()
    rows = _rows(case, [a, b, a, c, b], credential)  # lines 2-6: a and b again on lines 4 and 6
    status, accepted = await _post(api, to_csv(rows).encode(), "text/csv")
    assert status == 202, accepted
    assert accepted["debtors"] == 3 and accepted["inquiries"] == 1 and accepted["warnings_total"] == 2
    assert [(w["line"], w["field"]) for w in accepted["warnings"]] == [(4, "debtor.id_number"), (6, "debtor.id_number")]
    assert "line 2" in accepted["warnings"][0]["message"] and "line 3" in accepted["warnings"][1]["message"]

    rows = _rows(new_case_number(), [a, b, a], credential)
    rows[2]["name"] = a.name + "某"  # line 4: the same resident ID, another name
    status, error = await _post(api, to_csv(rows).encode(), "text/csv")
    assert status == 422, error
    [e] = error["errors"]
    assert e["line"] == 4 and e["field"] == "debtor.name"
    assert "line 2" in e["message"] and "line 4" in e["message"]
    async with api.get(f"/v1/cases/{rows[0]['case_number']}") as r:
        assert r.status == 404  # nothing was stored: the refused batch opened no case


async def _inquiry_ids(api: aiohttp.ClientSession, accepted: dict[str, Any]) -> list[str]:
    async with api.get(f"{accepted['location']}/reports") as r:
        return list(dict.fromkeys(orjson.loads(line)["inquiry_id"] for line in (await r.read()).splitlines()))
