"""A batch body turned into the inquiries it will become, before anything is stored.

Pure work over the body and the (immutable) institution directory, touching neither the store nor
the request: so the route runs it in a worker thread and the event loop keeps answering others
while a 100,000-row batch is decoded, parsed and validated (see routes/inquiries.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gateway.inquiries.bulk import MAX_ERRORS, BulkError, detect_format, iter_rows
from gateway.inquiries.encoding import EncodingRefused, decode_batch
from schemas.api import BatchRow
from schemas.debtor import Debtor
from schemas.directory import Directory, UnknownInstitution

MAX_DEBTORS_PER_INQUIRY = 1000  # as for POST /v1/inquiries (InquiryCreate.debtors)
MAX_WARNINGS = 50


class EncodingError(ValueError):
    """The body is in no encoding the gateway reads (a 400, not a row's fault)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class Group:
    """Rows sharing a case and legal basis: the first row stands for the basis; its debtors in the
    order first listed, each once."""

    first: BatchRow
    first_line: int
    debtors: list[Debtor] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # id_number → the line that listed it first

    def parts(self) -> list[list[Debtor]]:
        """At most ``MAX_DEBTORS_PER_INQUIRY`` debtors each: one inquiry per part."""
        size = MAX_DEBTORS_PER_INQUIRY
        return [self.debtors[i:i + size] for i in range(0, len(self.debtors), size)]


@dataclass
class BatchPlan:
    format: str
    encoding: str
    rows: int
    groups: list[Group]
    # One row per distinct (case, court, credentials), in line order: what the route checks
    # against the officer's authority (a refusal names the first line that would be refused).
    authority: list[tuple[int, BatchRow]]
    # The first row of each case, in line order: its amounts are checked against the case record.
    cases: list[tuple[int, BatchRow]]
    warnings: list[dict[str, Any]]
    repeats: int

    @property
    def inquiries(self) -> int:
        return sum(math.ceil(len(g.debtors) / MAX_DEBTORS_PER_INQUIRY) for g in self.groups)


def plan_batch(raw: bytes, content_type: str, directory: Directory, max_rows: int) -> BatchPlan:
    """Raises ``EncodingError`` or ``BulkError`` (errors by line and field); nothing is stored."""
    try:
        text, encoding = decode_batch(raw)
    except EncodingRefused as exc:
        raise EncodingError(str(exc), exc.line) from None
    del raw  # the caller may still hold it; the text is what is read from here on
    fmt = detect_format(content_type, text)
    groups: dict[tuple[Any, ...], Group] = {}
    names: dict[str, tuple[str, int]] = {}  # id_number → (name, line) as first listed in the batch
    authority: dict[tuple[Any, ...], tuple[int, BatchRow]] = {}
    cases: dict[str, tuple[int, BatchRow]] = {}
    errors: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    repeats = rows = 0
    for line, row in iter_rows(text, fmt, max_rows):
        rows += 1
        try:
            directory.resolve_scope(row.institutions)
        except UnknownInstitution as exc:
            raise BulkError(str(exc), [{"line": line, "field": f"institutions[{exc.index}]", "message": str(exc)}]) from None
        debtor = row.debtor
        known = names.setdefault(debtor.id_number, (debtor.name, line))
        if known[0] != debtor.name:  # one person, one name: which line is right is the officer's call
            errors.append({"line": line, "field": "debtor.name", "message": (
                f"id_number {debtor.id_number} is named {known[0]!r} on line {known[1]} and {debtor.name!r} on line {line}")})
            if len(errors) >= MAX_ERRORS:
                break
            continue
        authority.setdefault((row.case_number, row.court, tuple(row.officer_credentials)), (line, row))
        cases.setdefault(row.case_number, (line, row))
        key = (row.case_number, row.court, row.amount_due_fen, row.costs_fen, row.notice_number,
               tuple(row.officer_credentials), tuple(row.institutions or ()), row.deadline_seconds)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(row, line)
        first = group.lines.setdefault(debtor.id_number, line)
        if first != line:  # the same debtor again in the same inquiry: asked once
            repeats += 1
            if len(warnings) < MAX_WARNINGS:
                warnings.append({"line": line, "field": "debtor.id_number",
                                 "message": f"repeats line {first} of case {row.case_number}; the debtor is asked once"})
            continue
        group.debtors.append(debtor)
    if errors:
        raise BulkError(f"{len(errors)} error(s) in the batch; nothing was accepted", errors)
    return BatchPlan(fmt, encoding, rows, list(groups.values()), sorted(authority.values(), key=_line),
                     sorted(cases.values(), key=_line), warnings, repeats)


def _line(item: tuple[int, BatchRow]) -> int:
    return item[0]
