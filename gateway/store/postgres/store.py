"""The PostgreSQL store: the repositories over one connection of the event loop, units of work as
transactions on it, readers on pooled connections, and the peers (gateways sharing the database).
Several gateway processes may open it at once (``owner`` tells their outbox claims apart)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from types import TracebackType

from gateway.store import rows
from gateway.store.postgres.access import PgAccessAudit
from gateway.store.postgres.cases import PgCases
from gateway.store.postgres.connection import open_pool, read_view, transaction
from gateway.store.postgres.events import PgInstitutionEvents, PgReconciliations
from gateway.store.postgres.inquiries import PgInquiries
from gateway.store.postgres.legs import PgLegQueue
from gateway.store.postgres.orders import PgOrders
from gateway.store.postgres.peers import PgPeers
from gateway.store.postgres.watches import PgAlerts, PgWatches
from gateway.store.records import InquiryRecord, LegRecord, OrderRecord

# A unit of work holds this transaction lock: the desk's check-then-write (over-freezing, the
# living allowance, idempotency keys) is one at a time across every gateway, as SQLite's BEGIN
# IMMEDIATE makes it within one. Plain writes (results, events) do not take it.
UNIT_OF_WORK_LOCK = 0x61737375


class PgStore:
    def __init__(self, url: str, owner: str | None = None) -> None:
        self.url = url
        self.owner = owner or uuid.uuid4().hex[:12]
        self.pool = open_pool(url)
        self.connection = self.pool.getconn()  # the event loop's; callers use the repositories
        self.inquiries = PgInquiries(self.connection)
        self.legs = PgLegQueue(self.connection, self.owner)
        self.orders = PgOrders(self.connection, self.owner)
        self.cases = PgCases(self.connection)
        self.access = PgAccessAudit(self.connection)
        self.events = PgInstitutionEvents(self.connection)
        self.reconciliations = PgReconciliations(self.connection)
        self.watches = PgWatches(self.connection)
        self.alerts = PgAlerts(self.connection)
        self.peers = PgPeers(self.connection, url)

    def unit_of_work(self) -> PgUnitOfWork:
        return PgUnitOfWork(self)

    def read_view(self) -> AbstractContextManager[None]:
        return read_view(self.connection)

    def reader(self) -> PgReader:
        return PgReader(self)

    def close(self) -> None:
        self.pool.putconn(self.connection)
        self.pool.close()


class PgReader:
    """A pooled connection of its own, for a worker thread; back to the pool on close."""

    def __init__(self, store: PgStore) -> None:
        self._pool = store.pool
        self.connection = store.pool.getconn()
        self.inquiries = PgInquiries(self.connection)
        self.orders = PgOrders(self.connection)
        self.events = PgInstitutionEvents(self.connection)

    def close(self) -> None:
        self._pool.putconn(self.connection)


class PgUnitOfWork:
    def __init__(self, store: PgStore) -> None:
        self.inquiries = store.inquiries
        self.orders = store.orders
        self.cases = store.cases
        self.events = store.events
        self.watches = store.watches
        self.alerts = store.alerts
        self._db = store.connection
        self._transaction = transaction(store.connection)

    def __enter__(self) -> PgUnitOfWork:
        self._transaction.__enter__()
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (UNIT_OF_WORK_LOCK,))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._transaction.__exit__(exc_type, exc, tb)


class PgSnapshot:
    """A read-only view (``assetgw rebuild``): a read-only transaction on a connection of its own."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(url)
        self.connection.read_only = True

    def inquiries(self) -> Iterator[InquiryRecord]:
        return map(rows.inquiry, self.connection.execute(f"SELECT {rows.INQUIRY_COLUMNS} FROM inquiries ORDER BY seq"))

    def published_legs(self) -> Iterator[LegRecord]:
        return map(rows.leg, self.connection.execute(f"SELECT {rows.LEG_COLUMNS} FROM legs WHERE status != 'pending'"))

    def published_orders(self) -> Iterator[OrderRecord]:
        return map(rows.order, self.connection.execute(
            f"SELECT {rows.ORDER_COLUMNS} FROM orders WHERE status != 'requested' ORDER BY seq"))

    def close(self) -> None:
        self.connection.close()
