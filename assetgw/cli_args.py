"""Values officers type on the command line, checked by argparse so a mistake is one usage line."""

from __future__ import annotations

import argparse

from schemas.money import fen_of_yuan


def parse_yuan(text: str) -> int:
    """Yuan as an officer writes them (12,345.67 or ¥12345) to integer fen (``schemas.money``)."""
    try:
        return fen_of_yuan(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number above 0, not {text!r}")
    return int(text)
