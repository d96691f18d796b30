"""Free text from clients (names, courts, document numbers, reasons): the one rule for what it may
hold. Such text is stored, sent to institutions and printed on officers' terminals, so it may not
carry what rewrites a terminal or a reader's view of it:

- control characters (category Cc: C0, DEL, C1 — ESC starts ANSI and OSC sequences; no
  exceptions, a name or a document number has no tabs or line breaks), and line or paragraph
  separators (U+2028, U+2029);
- bidirectional overrides, embeddings, isolates and marks (U+202A–U+202E, U+2066–U+2069,
  U+200E, U+200F, U+061C), which make text read differently from what is stored ("Trojan Source");
- unassigned code points (Cn) and lone surrogates (Cs), which no one can read or check.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REFUSED_CATEGORIES = {"Cc": "a control character", "Cn": "an unassigned code point", "Cs": "a lone surrogate",
                       "Zl": "a line separator", "Zp": "a paragraph separator"}


def what_is_wrong(char: str) -> str | None:
    """What makes ``char`` unfit for stored or printed text, or None when it is fine."""
    return "a bidirectional control" if char in BIDI_CONTROLS else _REFUSED_CATEGORIES.get(unicodedata.category(char))


def refused_character(value: str) -> str | None:
    """Why ``value`` may not be stored (naming the first character at fault), or None."""
    for position, char in enumerate(value):
        what = what_is_wrong(char)
        if what:
            return f"{what} (U+{ord(char):04X}) at position {position + 1} is not allowed"
    return None


def check_text(value: str) -> str:
    why = refused_character(value)
    if why:
        raise ValueError(why)
    return value


# A str field any client fills in: the rule above applies.
Text = Annotated[str, AfterValidator(check_text)]
