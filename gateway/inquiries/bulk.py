"""Parsing bulk submissions (CSV or JSON Lines) into validated rows, with line-numbered errors.

A batch is all or nothing: one bad row rejects the whole batch, and the errors say which lines."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.api import BatchRow
from schemas.validation import field_errors

CSV_COLUMNS = ("case_number", "court", "amount_due_fen", "costs_fen", "notice_number", "officer_credentials",
               "debtor_kind", "id_number", "name", "institutions", "deadline_seconds")
REQUIRED_CSV = {"case_number", "court", "amount_due_fen", "notice_number", "officer_credentials", "id_number", "name"}
MAX_ERRORS = 50
_JSON_START = re.compile(r"\s*\{")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class BulkError(ValueError):
    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


def detect_format(content_type: str, text: str) -> str:
    if "csv" in content_type or "tab-separated" in content_type:
        return "csv"
    if any(t in content_type for t in ("ndjson", "jsonl", "json-lines", "json")):
        return "jsonl"
    return "jsonl" if _JSON_START.match(text) else "csv"  # (text/plain: what Excel's "Unicode text" gets sent as)


def iter_rows(text: str, fmt: str, max_rows: int) -> Iterator[tuple[int, BatchRow]]:
    """(line, valid row) as the text is read, so a large batch is never held as models all at once.
    Raises ``BulkError`` at the first structural fault, or after the last row if any row was bad:
    the caller must not store anything before the iterator is exhausted."""
    raw_rows = _csv_rows(text) if fmt == "csv" else _jsonl_rows(text)
    errors: list[dict[str, Any]] = []
    count = 0
    for line, raw in raw_rows:
        if count >= max_rows:
            raise BulkError(f"a batch holds at most {max_rows} rows", [{"line": line, "field": "body", "message": "too many rows"}])
        count += 1
        if isinstance(raw, str):  # a line that could not be parsed at all
            errors.append({"line": line, "field": "body", "message": raw})
        else:
            try:
                row = BatchRow.model_validate(raw)
            except ValidationError as exc:
                errors.extend({"line": line, **e} for e in field_errors(exc))
            else:
                if not errors:  # once one row is bad the batch is refused: the rest are only checked
                    yield line, row
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise BulkError(f"{len(errors)} error(s) in the batch; nothing was accepted", errors[:MAX_ERRORS])
    if not count:
        raise BulkError("the batch has no rows", [{"line": 0, "field": "body", "message": "no debtor rows"}])


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings (\\n, \\r\\n or \\r), one at a time: the csv module reads
    quoted line breaks itself, and no second copy of a 64 MiB body is made."""
    for match in _LINE.finditer(text):
        if match.group():
            yield match.group()


def _jsonl_rows(text: str):  # type: ignore[no-untyped-def]
    for line, content in enumerate(_lines(text), start=1):
        if not content.strip():
            continue
        try:
            value = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            yield line, f"not valid JSON: {exc}"
            continue
        yield line, value if isinstance(value, dict) else "each line must be a JSON object"


def _csv_rows(text: str):  # type: ignore[no-untyped-def]
    lines = _lines(text.removeprefix("\ufeff"))
    first = next(lines, "")
    # Excel's "Unicode text" is tab-separated; the header (known column names, no commas or tabs
    # in them) tells which separator the file uses.
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.DictReader(itertools.chain((first,), lines), delimiter=delimiter)
    try:
        yield from _csv_records(reader)
    except csv.Error as exc:  # e.g. an oversized field: the CSV itself is broken
        # line_num counts the lines of complete records; the broken one starts on the next.
        raise BulkError("the body is not valid CSV", [{"line": reader.line_num + 1, "field": "body", "message": str(exc)}]) from None


def _csv_records(reader: csv.DictReader):  # type: ignore[no-untyped-def,type-arg]
    missing = REQUIRED_CSV - set(reader.fieldnames or ())
    if missing:
        raise BulkError("the CSV header lacks required columns", [
            {"line": 1, "field": column, "message": "missing column"} for column in sorted(missing)
        ])
    unknown = set(reader.fieldnames or ()) - set(CSV_COLUMNS)
    if unknown:
        raise BulkError("the CSV header has unknown columns", [
            {"line": 1, "field": column, "message": f"unknown column; expected some of {', '.join(CSV_COLUMNS)}"}
            for column in sorted(unknown)
        ])
    for record in reader:
        line = reader.line_num
        if None in record:
            yield line, "more fields than header columns"
            continue
        yield line, {
            "case_number": record["case_number"],
            "court": record["court"],
            "amount_due_fen": _integer(record["amount_due_fen"]),
            "costs_fen": _integer(record.get("costs_fen") or "0"),
            "notice_number": record["notice_number"],
            "officer_credentials": _split(record["officer_credentials"]),
            "debtor": {"kind": record.get("debtor_kind") or None, "id_number": record["id_number"], "name": record["name"]},
            "institutions": _split(record.get("institutions") or "") or None,
            "deadline_seconds": _integer(record.get("deadline_seconds") or "") or None,
        }


def _integer(value: str) -> int | str:
    """A CSV cell of plain digits as an integer; anything else (1000.0, 1e3, -5) stays text for
    the strict model to refuse with the field's name."""
    text = value.strip()
    return int(text) if text.isascii() and text.isdigit() else text


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The inverse, for tools and tests that write debtor lists."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ";".join(v) if isinstance(v, list) else ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()
