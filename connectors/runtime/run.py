"""Starts one worker per requested institution kind in this process."""

from __future__ import annotations

import asyncio
import os

import structlog

from connectors.contract.exchange_transport import FileExchangeTransport
from connectors.contract.registry import load_connectors
from connectors.contract.transport import HttpTransport, RoutedTransport, Transport
from connectors.runtime.worker import ConnectorWorker, connector_group
from infra import heap
from infra.kafka.clients import make_consumer, make_producer, start_with_retry
from infra.kafka.topics import ensure_topics
from infra.metrics import serve_metrics
from infra.settings import Settings
from schemas import ports
from schemas.file_exchange import NETWORK_USER, login_password
from schemas.sftp_client import ExchangeLogin
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


def transport_for(kind: str, settings: Settings, keys: PartnerKeys | None) -> Transport:
    """The kind's simulator (or institution gateway), each institution's own base URL where
    ``ASSETGW_INSTITUTION_URL_{ID}`` sets one, and the file exchange for the banks that poll."""
    kind_url = settings.simulator_urls[kind]
    institutions = settings.directory.of_kind(kind)
    own: dict[str, Transport] = {i.id: HttpTransport(settings.institution_urls[i.id], keys=keys, connections=32)
                                 for i in institutions if i.id in settings.institution_urls and not i.polls}
    for institution_id in own:
        structlog.get_logger("connector").info("institution served at its own URL", institution=institution_id,
                                               url=settings.institution_urls[institution_id])
    if polling := [i.id for i in institutions if i.polls]:
        if keys is None:
            raise MissingPartnerKeys("the file exchange with the polling banks needs the partner keys (its logins and signatures)")
        files = FileExchangeTransport(keys, ExchangeLogin(NETWORK_USER, login_password(keys, NETWORK_USER)),
                                      collect_every_s=min(1.0, settings.polling_interval_s / 4))
        own.update(dict.fromkeys(polling, files))
        structlog.get_logger("connector").info("banks polling the file exchange", institutions=polling,
                                               interval_s=settings.polling_interval_s)
    default = HttpTransport(kind_url, keys=keys)
    if not own:
        return default
    return RoutedTransport(default, own)


async def run_connectors(settings: Settings, kinds: list[str], stop: asyncio.Event) -> None:
    factories = load_connectors()
    missing = [k for k in kinds if k not in factories]
    if missing:
        raise SystemExit(f"no connector registered for {missing}; registered: {sorted(factories)}")
    keys = partner_keys()
    await ensure_topics(settings.kafka_bootstrap, settings.topic_prefix, settings.partitions, settings.topic_retention_s)
    # Before the Kafka clients: a taken port then leaves nothing unclosed behind.
    port = settings.metrics_port or ports.CONNECTOR_METRICS[kinds[0] if len(kinds) == 1 else "all"]
    metrics_server = await serve_metrics(settings.api_host, port)
    producers = {kind: make_producer(settings, f"connector-{kind}") for kind in kinds}
    workers = [
        ConnectorWorker(kind, factories[kind](transport_for(kind, settings, keys)), settings,
                        consumer=make_consumer(settings, group_id=connector_group(settings.topic_prefix, kind),
                                               client_id=f"connector-{kind}"),
                        producer=producers[kind])
        for kind in kinds
    ]
    heap.settle()
    try:
        await asyncio.gather(*(start_with_retry(p) for p in producers.values()))
        await asyncio.gather(*(w.run(stop) for w in workers))
    finally:
        for producer in producers.values():  # after the workers: their last results are flushed by now
            try:  # bounded: the broker may be gone
                await asyncio.wait_for(producer.stop(), timeout=10)
            except Exception as exc:  # noqa: BLE001 - leaving anyway
                structlog.get_logger("connector").warning("shutdown step gave up", error=repr(exc))
        await metrics_server.cleanup()
