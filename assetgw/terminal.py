"""Text from the gateway, a store or a topic made inert before it reaches an officer's terminal.

What we print comes from clients, institutions and old records, which the input rule
(``schemas/text.py``) may not have covered: an escape sequence could recolour or retitle the
terminal, a bidi override reorder what is read, and ``[...]`` would be taken as rich markup. Every
renderer of the ``assetgw`` command passes such values through ``inert``."""

from __future__ import annotations

from rich.markup import escape

from schemas.text import what_is_wrong


def _shown(char: str) -> str:
    return f"\\u{ord(char):04x}" if ord(char) > 0xFF else f"\\x{ord(char):02x}"


def plain(value: object) -> str:
    """``value`` as text with every character the input rule refuses shown as its escape (``\\x1b``)."""
    text = str(value)
    return "".join(_shown(c) if what_is_wrong(c) else c for c in text)


def inert(value: object) -> str:
    """``plain`` and rich markup escaped: for f-strings and table cells that rich interprets."""
    return escape(plain(value))
