"""Topic names and their creation. Legs go to one topic per institution kind so each kind's
connector workers scale on their own; results come back on one topic keyed by inquiry."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.directory import KINDS
from schemas.events import ControlStatusQuery, ControlStatusReport, InstitutionEvent
from schemas.messages import TYPE_OF, LegBatch, LegBatchResult
from schemas.orders import OrderRequest, OrderResult


def legs_topic(prefix: str, kind: str) -> str:
    return f"{prefix}.inquiry.legs.{kind}"


def results_topic(prefix: str) -> str:
    return f"{prefix}.inquiry.results"


def orders_topic(prefix: str, kind: str) -> str:
    return f"{prefix}.control.orders.{kind}"


def order_results_topic(prefix: str) -> str:
    return f"{prefix}.control.results"


def institution_events_topic(prefix: str) -> str:
    """What institutions say on their own, keyed by asset (schemas/events.py)."""
    return f"{prefix}.institution.events"


def deadletter_topic(prefix: str) -> str:
    return f"{prefix}.deadletter"


def all_topics(prefix: str) -> list[str]:
    return [
        *(legs_topic(prefix, k) for k in KINDS), results_topic(prefix),
        *(orders_topic(prefix, k) for k in KINDS), order_results_topic(prefix),
        institution_events_topic(prefix), deadletter_topic(prefix),
    ]


def carried_types(prefix: str) -> dict[str, tuple[str, ...]]:
    """The envelope types each topic carries (the dead-letter topic: any, so not listed). The one
    home of the rule that rebuild skips, replay enforces and ``assetgw topics`` shows."""
    names = lambda *models: tuple(TYPE_OF[m] for m in models)  # noqa: E731
    return {
        **{legs_topic(prefix, k): names(LegBatch) for k in KINDS},
        results_topic(prefix): names(LegBatchResult),
        **{orders_topic(prefix, k): names(OrderRequest, ControlStatusQuery) for k in KINDS},
        order_results_topic(prefix): names(OrderResult, ControlStatusReport),
        institution_events_topic(prefix): names(InstitutionEvent),
    }


async def ensure_topics(bootstrap: str, prefix: str, partitions: int) -> list[str]:
    """Create any missing topic; returns the ones created. Safe to call from every component."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in all_topics(prefix) if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another component won the race
                await admin.create_topics([NewTopic(t, partitions, 1) for t in missing])
        return missing
    finally:
        await admin.close()
