"""The application's shared parts, as typed keys on the aiohttp app (one home, so route modules
need not import each other)."""

from __future__ import annotations

from aiohttp import web

from gateway.cases.desk import CaseDesk
from gateway.events.reconcile import Reconciler
from gateway.inquiries.completions import Completions
from gateway.inquiries.intake import Intake
from gateway.orders.desk import OrderDesk
from gateway.orders.restrictions import RestrictionDesk
from gateway.store.interfaces import Store
from gateway.watches.wiring import Watches
from infra.kafka.health import KafkaHealth
from schemas.directory import Directory

STORE = web.AppKey("store", Store)
INTAKE = web.AppKey("intake", Intake)
DIRECTORY = web.AppKey("directory", Directory)
COMPLETIONS = web.AppKey("completions", Completions)
DESK = web.AppKey("desk", OrderDesk)
RESTRICTIONS = web.AppKey("restrictions", RestrictionDesk)
CASES = web.AppKey("cases", CaseDesk)
RECONCILER = web.AppKey("reconciler", Reconciler)
WATCHES = web.AppKey("watches", Watches)
KAFKA_HEALTH = web.AppKey("kafka_health", KafkaHealth)  # absent in apps built without Kafka (unit tests): healthy
