"""How an institution's HTTP status maps to the worker's retry decision."""

from __future__ import annotations

from connectors.contract.base import Permanent, Retryable
from connectors.contract.transport import Reply

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def check_status(reply: Reply, institution_id: str) -> None:
    """Raise for anything but a 2xx or a 403 refusal (which the connector reports as ``Refused``)."""
    if 200 <= reply.status < 300 or reply.status == 403:
        return
    detail = reply.body.get("reason") or reply.body.get("error") if isinstance(reply.body, dict) else None
    reason = f"{institution_id} answered HTTP {reply.status}" + (f": {detail}" if detail else "")
    if reply.status in RETRYABLE_STATUSES:
        raise Retryable(reason, retry_after=_retry_after(reply))
    raise Permanent(reason)


def refusal_reason(reply: Reply) -> str:
    body = reply.body if isinstance(reply.body, dict) else {}
    return str(body.get("reason") or "refused by the institution")


def require_dict(reply: Reply, institution_id: str) -> dict:
    if not isinstance(reply.body, dict):
        # A malformed body may be a glitch in transit: worth another try.
        raise Retryable(f"{institution_id} sent a body that is not a JSON object")
    return reply.body


def _retry_after(reply: Reply) -> float | None:
    value = reply.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
