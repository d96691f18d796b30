"""Values officers type on the command line, checked by argparse so a mistake is one usage line."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation


def parse_yuan(text: str) -> int:
    """Yuan as an officer writes them (12,345.67 or ¥12345) to integer fen, exactly: never a float."""
    try:
        amount = Decimal(text.replace(",", "").replace("¥", "").strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in yuan: {text!r}") from None
    fen = amount * 100
    if not fen.is_finite() or fen != fen.to_integral_value() or fen <= 0:
        raise argparse.ArgumentTypeError(f"yuan with at most two decimals, above zero: {text!r}")
    return int(fen)


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number above 0, not {text!r}")
    return int(text)
