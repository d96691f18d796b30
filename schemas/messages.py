"""Kafka messages: one versioned envelope around typed payloads, encoded with orjson.

A message that cannot be decoded raises ``UndecodableMessage`` with the reason; consumers send it
to the dead-letter topic with that reason and carry on.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from schemas.assets import Asset
from schemas.debtor import Debtor

SCHEMA_VERSION = 3  # 2: legs travel in batches (inquiry.legs.*); 3: one leg message per institution kind


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


def leg_id(inquiry_id: str, debtor_seq: int, institution_id: str) -> str:
    """A leg is one debtor of an inquiry asked of one institution; its id names all three."""
    return f"{inquiry_id}.{debtor_seq}.{institution_id}"


def debtor_seq_of(leg: str) -> int:
    """The debtor's place in its inquiry, read back from a leg id (``leg_id``'s inverse)."""
    return int(leg.split(".")[1])


class LegItem(_Payload):
    """One leg of a batch: one debtor asked of one institution."""

    leg_id: str
    institution_id: str
    debtor: Debtor


class LegBatch(_Payload):
    """Ask institutions of one kind what some debtors of one inquiry hold. Legs travel in batches
    because what they share (the case, its legal basis, the deadline) is most of a leg, because
    one message per kind rather than per institution keeps a one-debtor inquiry to four messages,
    and because institutions answer batches far more cheaply than single requests."""

    inquiry_id: str
    batch_id: str | None = None
    case_number: str
    court: str
    notice_number: str = Field(description="协助查询通知书 number")
    officer_credentials: list[str] = Field(min_length=1)
    # Not sent to institutions; carried so the gateway's store can be rebuilt from the topics.
    officer_id: str | None = Field(None, description="the authenticated officer who asked")
    amount_due_fen: int | None = None
    costs_fen: int | None = None
    institution_kind: str
    deadline: AwareDatetime = Field(description="after this the answers are no longer awaited")
    legs: list[LegItem] = Field(min_length=1)

    def part(self, legs: list[LegItem]) -> LegBatch:
        """The same batch narrowed to some of its legs (for chunking and for retrying the rest)."""
        return self.model_copy(update={"legs": legs})


LegStatus = Literal["found", "not_found", "refused", "failed", "timed_out"]
TERMINAL_STATUSES: tuple[str, ...] = ("found", "not_found", "refused", "failed", "timed_out")


class LegResult(_Payload):
    """Exactly one per leg: the assets found, or a terminal status with the reason."""

    leg_id: str
    institution_id: str
    status: LegStatus
    assets: list[Asset] = Field(default_factory=list)
    reason: str | None = None
    attempts: int = Field(ge=0, default=1)
    latency_ms: int = Field(ge=0, default=0)


class LegBatchResult(_Payload):
    """The answers to one ``LegBatch`` (or to part of it), one ``LegResult`` per leg."""

    inquiry_id: str
    results: list[LegResult] = Field(min_length=1)
    answered_at: AwareDatetime


from schemas.events import ControlStatusQuery, ControlStatusReport, InstitutionEvent  # noqa: E402
from schemas.orders import OrderRequest, OrderResult  # noqa: E402 - after _Payload, which they do not need

PAYLOADS: dict[str, type[BaseModel]] = {
    "inquiry.legs.requested": LegBatch,
    "inquiry.legs.result": LegBatchResult,
    "control.order.requested": OrderRequest,
    "control.order.result": OrderResult,
    "control.status.query": ControlStatusQuery,
    "control.status.report": ControlStatusReport,
    "institution.event": InstitutionEvent,
}
TYPE_OF = {model: name for name, model in PAYLOADS.items()}


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    schema_version: int = SCHEMA_VERSION
    message_id: str = Field(default_factory=new_id)
    correlation: dict[str, str] = Field(default_factory=dict, description="inquiry_id, batch_id, institution_id, order_id, ...")
    produced_at: AwareDatetime = Field(default_factory=utcnow)
    payload: dict[str, Any]


class UndecodableMessage(ValueError):
    pass


def encode(payload: BaseModel, **correlation: str | None) -> bytes:
    return encode_payload(TYPE_OF[type(payload)], payload.model_dump(mode="json"), **correlation)


def encode_payload(type_name: str, payload: dict[str, Any], **correlation: str | None) -> bytes:
    """For producers that build the payload from already-validated data (the outbox, from its own
    store) and need not pay for constructing the model; consumers validate it on decode."""
    envelope = {
        "type": type_name,
        "schema_version": SCHEMA_VERSION,
        "message_id": new_id(),
        "correlation": {k: v for k, v in correlation.items() if v is not None},
        "produced_at": utcnow().isoformat(),
        "payload": payload,
    }
    return orjson.dumps(envelope)


def decode(raw: bytes | None) -> tuple[Envelope, BaseModel]:
    if raw is None:
        raise UndecodableMessage("empty message value")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UndecodableMessage(f"not JSON: {exc}") from None
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise UndecodableMessage(f"bad envelope: {_first_error(exc)}") from None
    model = PAYLOADS.get(envelope.type)
    if model is None:
        raise UndecodableMessage(f"unknown message type {envelope.type!r}")
    if envelope.schema_version != SCHEMA_VERSION:
        raise UndecodableMessage(f"unsupported schema_version {envelope.schema_version} for {envelope.type}")
    try:
        return envelope, model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise UndecodableMessage(f"bad {envelope.type} payload: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else err["msg"]
