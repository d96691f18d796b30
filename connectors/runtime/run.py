"""Starts one worker per requested institution kind in this process."""

from __future__ import annotations

import asyncio
import os

import structlog

from connectors.contract.registry import load_connectors
from connectors.contract.transport import HttpTransport
from connectors.runtime.worker import ConnectorWorker
from infra import heap
from infra.kafka.topics import ensure_topics
from infra.settings import Settings
from infra.metrics import serve_metrics
from schemas import ports
from schemas.signing import MissingPartnerKeys, PartnerKeys, load_partner_keys


def partner_keys() -> PartnerKeys | None:
    """Keys to sign institution requests with; unsigned only when explicitly allowed."""
    try:
        return load_partner_keys()
    except MissingPartnerKeys:
        if os.environ.get("ASSETGW_INSECURE_PARTNER_LINK") == "1":
            structlog.get_logger("connector").warning("partner link NOT signed (ASSETGW_INSECURE_PARTNER_LINK=1)")
            return None
        raise


async def run_connectors(settings: Settings, kinds: list[str], stop: asyncio.Event) -> None:
    factories = load_connectors()
    missing = [k for k in kinds if k not in factories]
    if missing:
        raise SystemExit(f"no connector registered for {missing}; registered: {sorted(factories)}")
    keys = partner_keys()
    await ensure_topics(settings.kafka_bootstrap, settings.topic_prefix, settings.partitions)
    workers = [
        ConnectorWorker(kind, factories[kind](HttpTransport(settings.simulator_urls[kind], keys=keys)), settings)
        for kind in kinds
    ]
    port = settings.metrics_port or ports.CONNECTOR_METRICS[kinds[0] if len(kinds) == 1 else "all"]
    metrics_server = await serve_metrics(settings.api_host, port)
    heap.settle()
    try:
        await asyncio.gather(*(w.run(stop) for w in workers))
    finally:
        await metrics_server.cleanup()
