"""Money on the wire: integer fen (1/100 yuan), as a JSON integer and nothing else.

Strict: ``true`` (a bool is an int to Python), ``1000.0``, ``1e3`` (a float in JSON) and ``"1000"``
are client bugs, refused with the field's name; the ceiling keeps every amount far inside a
64-bit integer (10^15 fen is ten trillion yuan, beyond any enforcement case)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import Field

FEN_MAX = 10**15

# An amount to pay, freeze, deduct or recover: at least 1 fen.
Fen = Annotated[int, Field(strict=True, ge=1, le=FEN_MAX, description="amount in fen (1/100 yuan): a JSON integer, 1 to 10^15")]
# An amount that may be nothing, e.g. enforcement costs.
FenOrZero = Annotated[int, Field(strict=True, ge=0, le=FEN_MAX, description="amount in fen (1/100 yuan): a JSON integer, 0 to 10^15")]


def yuan(fen: int) -> str:
    """Fen as yuan for people to read, by integer arithmetic (money is never a float): ¥1,234.56."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def fen_of_yuan(text: str) -> int:
    """Yuan as an officer writes them (12,345.67 or ¥12345) to integer fen, exactly: never a float.
    ValueError, saying what is wrong, for anything else."""
    try:
        amount = Decimal(text.replace(",", "").replace("¥", "").strip())
    except InvalidOperation:
        raise ValueError(f"not an amount in yuan: {text!r}") from None
    fen = amount * 100
    if not fen.is_finite() or fen != fen.to_integral_value() or fen <= 0:
        raise ValueError(f"yuan with at most two decimals, above zero: {text!r}")
    return int(fen)
