"""structlog set-up: JSON lines by default, readable lines on a terminal; identifiers masked.

Masking runs over every rendered value, so a resident ID, USCC or card number never reaches a log
even when it arrives inside an error message."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from infra.log_repeats import RepeatFilter, Repeats, structlog_processor
from infra.settings import log_level
from schemas.identifiers import mask

# 18-character resident IDs / USCCs, and 12-19 digit card or account numbers.
# Whole tokens only: a digit run inside a hex id (an inquiry id) is not a card number.
_SENSITIVE = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9X]|[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}|[0-9]{12,19})(?![0-9A-Za-z])"
)


def mask_text(text: str) -> str:
    return _SENSITIVE.sub(lambda m: mask(m.group(0)), text)


def mask_name(name: str) -> str:
    """张三丰 -> 张**: the family name alone does not identify anyone."""
    return name[:1] + "*" * (len(name) - 1)


def _mask_values(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if not isinstance(value, str):
            continue
        # A person's or company's name under any *name key; institution names are public.
        if key.endswith("name") and not key.startswith("institution"):
            event[key] = mask_name(value)
        else:
            event[key] = mask_text(value)
    return event


def configure_logging(component: str, level: str | None = None) -> None:
    """``level``: default ``ASSETGW_LOG_LEVEL`` (INFO); DEBUG adds what is only for finding a bug."""
    level = level or log_level()
    renderer = structlog.dev.ConsoleRenderer() if sys.stderr.isatty() else structlog.processors.JSONRenderer()
    repeats = Repeats()  # one for both paths: a retry storm is collapsed wherever it is logged
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog_processor(repeats),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _mask_values,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(component=component)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # aiokafka / aiohttp warnings
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatFilter(repeats))
