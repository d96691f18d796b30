"""Exports JSON Schema documents for partner institutions and API clients into ``schemas/json``.

Run ``python -m schemas.export`` after changing a model; a test fails while the files are stale."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from pydantic import BaseModel, TypeAdapter

from schemas.api import BatchRow, InquiryCreate
from schemas.assets import Asset
from schemas.events import ControlStatusQuery, ControlStatusReport, InstitutionEvent
from schemas.messages import SCHEMA_VERSION, Envelope, LegBatch, LegBatchResult
from schemas.orders import Approval, Decline, FreezePlanRequest, OrderCreate, OrderRequest, OrderResult
from schemas.restrictions import RestrictionCreate, RestrictionLift
from schemas.watches import WatchCreate

OUT = Path(__file__).parent / "json"


def documents() -> dict[str, dict]:
    models: dict[str, type[BaseModel]] = {
        "envelope": Envelope,
        "inquiry.legs.requested": LegBatch,
        "inquiry.legs.result": LegBatchResult,
        "api.inquiry-create": InquiryCreate,
        "api.batch-row": BatchRow,
        "control.order.requested": OrderRequest,
        "control.order.result": OrderResult,
        "control.status.query": ControlStatusQuery,
        "control.status.report": ControlStatusReport,
        "institution.event": InstitutionEvent,
        "api.order-create": OrderCreate,
        "api.order-approval": Approval,
        "api.order-decline": Decline,
        "api.freeze-plan": FreezePlanRequest,
        "api.watch-create": WatchCreate,
        "api.restriction-create": RestrictionCreate,
        "api.restriction-lift": RestrictionLift,
    }
    docs = {name: model.model_json_schema() for name, model in models.items()}
    docs["asset"] = TypeAdapter(Asset).json_schema()
    for name, doc in docs.items():
        doc["$id"] = f"urn:assetgw:schema:{name}:v{SCHEMA_VERSION}"
        doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return docs


def render(doc: dict) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    written = set()
    for name, doc in documents().items():
        path = OUT / f"{name}.v{SCHEMA_VERSION}.json"
        path.write_bytes(render(doc))
        written.add(path)
    for stale in set(OUT.glob("*.json")) - written:  # a former version, or a message that is gone
        stale.unlink()
    print(f"wrote {len(written)} schemas to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
