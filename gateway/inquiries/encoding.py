"""Which text encoding a batch was saved in, without the officer saying.

What officers' desktops produce: UTF-8 (with a BOM when a spreadsheet program writes "CSV UTF-8"),
GB18030/GBK (a spreadsheet program's plain "CSV" on a Chinese Windows) and UTF-16 LE with a BOM
(Excel's "Unicode text", tab-separated). Tried in that order, which is sound because UTF-8 is
strict: GBK text with Chinese names in it practically never forms valid UTF-8, while nearly any
byte string is some GB18030, so GB18030 comes last and only counts if the text it gives is
plausible for a debtor list (no control characters, nothing from the private-use area that
GB18030 maps its unassigned codes to)."""

from __future__ import annotations

import codecs
import re

ACCEPTED = "UTF-8 (with or without BOM), GB18030/GBK, or UTF-16 with a BOM (Excel's \"Unicode text\")"
# C0 controls other than tab, LF and CR; DEL and C1 controls; the private-use area; U+FFFD.
_IMPLAUSIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]")


class EncodingRefused(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def decode_batch(raw: bytes) -> tuple[str, str]:
    """(text, encoding name) of a batch body, or ``EncodingRefused`` naming what is accepted."""
    if raw.startswith(codecs.BOM_UTF8):
        return _strict(raw[len(codecs.BOM_UTF8):], "utf-8"), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _strict(raw, "utf-16")  # the codec reads the BOM and drops it
        if _IMPLAUSIBLE.search(text) is None:  # e.g. UTF-32, whose BOM starts like UTF-16's
            return text, "utf-16"
        raise EncodingRefused(f"the body starts with a UTF-16 byte-order mark but is not UTF-16 text; save the file as "
                              f"{ACCEPTED}", 1)
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _IMPLAUSIBLE.search(text) is None:
        return text, "gb18030"
    raise EncodingRefused(f"the body is in no encoding the gateway reads; save the file as {ACCEPTED}",
                          _line_at(raw, utf8_error.start))


def _strict(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise EncodingRefused(f"the body starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()} "
                              f"throughout; save the file as {ACCEPTED}", _line_at(raw, exc.start)) from None


def _line_at(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1
