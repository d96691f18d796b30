"""Validators for the identifiers of enforcement: resident ID (GB 11643), unified social credit
code (GB 32100), case number and bank card (Luhn). Each ``check_*`` returns the normalised value
or raises ``ValueError`` with a message that says what is wrong, so API errors can quote it.

Every check first folds full-width forms to half-width (``halfwidth``): documents typed on a
Chinese desktop often carry full-width digits, letters and brackets, and an identifier must mean
the same thing however it was typed."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# (2025)冀0108执4502号 — year, province abbreviation, court code, enforcement case type, sequence.
_CASE_RE = re.compile(r"^\(([0-9]{4})\)([\u4e00-\u9fa5])([0-9]{2,6})(执(?:恢|保|异|复|监|协|他)?)([0-9]{1,6})号$")


def halfwidth(value: str) -> str:
    """Full-width digits, letters and punctuation (１, Ａ, （) as their half-width forms, trimmed.
    NFKC leaves Chinese characters as they are."""
    return unicodedata.normalize("NFKC", value).strip()


def _ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def resident_id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=False)) % 11]


def check_resident_id(value: str) -> str:
    value = halfwidth(value).upper()
    if len(value) != 18:
        raise ValueError(f"resident ID must have 18 characters, got {len(value)}")
    if not _ascii_digits(value[:17]) or not (_ascii_digits(value[17]) or value[17] == "X"):
        raise ValueError("resident ID must be 17 digits followed by a digit or X")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError("resident ID has an impossible birth date") from None
    if not date(1900, 1, 1) <= born <= date.today():
        raise ValueError("resident ID birth date is out of range")
    expected = resident_id_check_digit(value[:17])
    if value[17] != expected:
        raise ValueError(f"resident ID check digit is wrong (GB 11643): expected {expected}")
    return value


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=False))
    return _USCC_CHARS[(31 - total % 31) % 31]


def check_uscc(value: str) -> str:
    value = halfwidth(value).upper()
    if len(value) != 18:
        raise ValueError(f"unified social credit code must have 18 characters, got {len(value)}")
    bad = sorted({c for c in value if c not in _USCC_CHARS})
    if bad:
        raise ValueError(f"unified social credit code has characters outside GB 32100: {''.join(bad)}")
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        raise ValueError(f"unified social credit code check character is wrong (GB 32100): expected {expected}")
    return value


def looks_like_uscc(value: str) -> bool:
    """True when the value is shaped like a USCC rather than a resident ID: a letter before the
    last place, or the 工商 registration-authority prefix 9, which no resident region code uses.
    Other prefixes are ambiguous; callers pass the debtor kind explicitly for those."""
    v = halfwidth(value).upper()
    return len(v) == 18 and (any(c.isalpha() for c in v[:17]) or v[0] == "9")


def check_case_number(value: str) -> str:
    """The case number in its canonical half-width form: (2025)冀0108执4502号."""
    value = halfwidth(value)
    m = _CASE_RE.match(value)
    if not m:
        raise ValueError("case number must look like (2025)冀0108执4502号: (year)province+court code+执+number+号")
    year = int(m.group(1))
    if not 1990 <= year <= date.today().year + 1:
        raise ValueError(f"case number year {year} is out of range")
    return value


def court_code(case_number: str) -> str | None:
    """The court code inside a case number, full-width or half-width brackets alike:
    (2025)冀0108执4502号 -> 冀0108. None when the case number is malformed."""
    m = _CASE_RE.match(halfwidth(case_number))
    return m.group(2) + m.group(3) if m else None


def luhn_check_digit(partial: str) -> str:
    total = 0
    for i, c in enumerate(reversed(partial)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def check_bank_card(value: str) -> str:
    value = halfwidth(value).replace(" ", "")
    if not _ascii_digits(value) or not 12 <= len(value) <= 19:
        raise ValueError("bank card number must be 12 to 19 digits")
    if luhn_check_digit(value[:-1]) != value[-1]:
        raise ValueError("bank card number fails the Luhn check")
    return value


def mask(value: str) -> str:
    """Keep the first 3 and last 4 characters: enough to tell records apart, not to identify."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
