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


def topic_configs(topic: str, prefix: str, retention_s: int) -> dict[str, str]:
    """A bounded retention (``ASSETGW_TOPIC_RETENTION``) for every topic but the dead letters, which
    wait for ops. Measured on noida-db, which keeps every message in memory (assetgw/bench/
    broker_growth.py): the broker's CPU for the same rate of empty fetches rose from 0.26 to 1.00
    of a core as 500 MB went through it, and its RSS to 2.7 GB; with a retention both stayed flat.
    Segments roll as often as they expire, so a broker that deletes whole segments (Apache Kafka)
    can keep to it."""
    if not retention_s or topic == deadletter_topic(prefix):
        return {}
    ms = str(retention_s * 1000)
    return {"retention.ms": ms, "segment.ms": ms}


async def ensure_topics(bootstrap: str, prefix: str, partitions: int, retention_s: int = 0) -> list[str]:
    """Create any missing topic; returns the ones created. Safe to call from every component.
    A topic that exists keeps its configuration."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in all_topics(prefix) if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another component won the race
                await admin.create_topics([NewTopic(t, partitions, 1, topic_configs=topic_configs(t, prefix, retention_s))
                                           for t in missing])
        return missing
    finally:
        await admin.close()
