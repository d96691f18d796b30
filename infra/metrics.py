"""Prometheus metrics, one registry per process; ``/metrics`` on the gateway API and on every
connector worker's small metrics server. Institution labels are bounded by the directory."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

# Connector workers
LEGS = Counter("assetgw_legs_total", "Inquiry legs answered, by institution and outcome", ["institution", "outcome"])
ORDERS = Counter("assetgw_orders_total", "Control orders answered, by institution, type and outcome", ["institution", "type", "outcome"])
LATENCY = Histogram(
    "assetgw_institution_latency_seconds", "Time to an institution's answer, all attempts included",
    ["institution", "operation"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RETRIES = Counter("assetgw_institution_retries_total", "Calls to institutions that were tried again", ["institution"])
BREAKER_OPEN = Gauge("assetgw_circuit_open", "1 while an institution's circuit breaker is open", ["institution"])
INFLIGHT = Gauge("assetgw_inflight_requests", "Calls to institutions in flight", ["institution"])
STATUS_QUERIES = Counter("assetgw_status_queries_total", "Control status queries answered, by institution and outcome",
                         ["institution", "outcome"])
# The connectors' event relay (connectors/runtime/events.py)
EVENTS_RELAYED = Counter("assetgw_events_relayed_total", "Institution events put on the events topic, by institution and type",
                         ["institution", "type"])
EVENTS_REJECTED = Counter("assetgw_events_rejected_total", "Institution events dead-lettered (invalid, or of another institution)",
                          ["institution"])
EVENT_POLL_ERRORS = Counter("assetgw_event_poll_errors_total", "Event-feed polls that failed after their retries", ["institution"])
EVENT_CURSOR = Gauge("assetgw_event_cursor", "The feed position relayed, acknowledged and saved, per institution", ["institution"])
EVENT_RELAY_LAG = Gauge(
    "assetgw_event_relay_lag_seconds",
    "Seconds since the relay last read the institution's feed to its end (0 where this instance does not relay it)",
    ["institution"],
)
# Everyone who consumes
DEAD_LETTERS = Counter("assetgw_dead_letters_total", "Messages sent to the dead-letter topic", ["consumer", "source_topic"])
LAG = Gauge("assetgw_consumer_lag", "Messages behind the partition's end (end offset minus committed)", ["group", "topic", "partition"])
# Gateway
EVENTS_APPLIED = Counter("assetgw_institution_events_total", "Institution events the gateway received, by type and outcome"
                         " (applied, repeat)", ["type", "outcome"])
RESULTS = Counter("assetgw_results_received_total", "Leg and order results the gateway received", ["kind", "status"])
# What a redelivery or replay brought again is absorbed; what a topic does not carry is set aside.
DUPLICATES = Counter("assetgw_duplicates_total", "Results and events that changed nothing: a redelivery or replay"
                     " absorbed (or an answer after its leg timed out)", ["what"])
IGNORED = Counter("assetgw_ignored_total", "Messages the gateway's consumers set aside to the dead-letter topic, by what and why"
                  " (wrong_type: a type the topic does not carry, e.g. after a mistaken replay)", ["what", "reason"])
GC_PAUSE = Histogram("assetgw_gc_pause_seconds", "Garbage collections, by generation: each holds every thread",
                     ["generation"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
ACCEPTED = Counter("assetgw_accepted_total", "Inquiries, batches, orders and watches accepted by the API", ["what"])
HTTP = Counter("assetgw_http_requests_total", "API requests by route and status", ["method", "route", "status"])


async def metrics_handler(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def serve_metrics(host: str, port: int) -> web.AppRunner:
    """A metrics (and health) server for processes without an API of their own."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", lambda _: web.json_response({"ok": True}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def record_lag(group: str, consumer, committed: dict) -> None:  # type: ignore[no-untyped-def]
    """Lag per assigned partition from the consumer's last seen end offset and our committed offset."""
    for tp in consumer.assignment():
        end = consumer.highwater(tp)
        if end is not None:
            LAG.labels(group, tp.topic, str(tp.partition)).set(max(end - committed.get(tp, 0), 0))
