"""The SQLite store: the repositories over one connection, units of work as transactions on it,
and read-only snapshots for comparing two databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from gateway.store import rows
from gateway.store.peers import NoPeers
from gateway.store.records import InquiryRecord, LegRecord, OrderRecord
from gateway.store.sqlite.access import SqliteAccessAudit
from gateway.store.sqlite.cases import SqliteCases
from gateway.store.sqlite.connection import ReadView, Transaction, connect, connect_read_only
from gateway.store.sqlite.events import SqliteInstitutionEvents, SqliteReconciliations, backfill_known_assets
from gateway.store.sqlite.inquiries import SqliteInquiries
from gateway.store.sqlite.legs import SqliteLegQueue
from gateway.store.sqlite.orders import SqliteOrders
from gateway.store.sqlite.watches import SqliteAlerts, SqliteWatches


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection = connect(path)  # for SQLite's own tests (query plans); callers use the repositories
        self.inquiries = SqliteInquiries(self.connection)
        self.legs = SqliteLegQueue(self.connection)
        self.orders = SqliteOrders(self.connection)
        self.cases = SqliteCases(self.connection)
        self.access = SqliteAccessAudit(self.connection)
        self.events = SqliteInstitutionEvents(self.connection)
        self.reconciliations = SqliteReconciliations(self.connection)
        backfill_known_assets(self.connection)
        self.watches = SqliteWatches(self.connection)
        self.alerts = SqliteAlerts(self.connection)
        self.peers = NoPeers()  # one process owns the file

    def unit_of_work(self) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self)

    def read_view(self) -> ReadView:
        return ReadView(self.connection)

    def reader(self) -> SqliteReader:
        return SqliteReader(self.path)

    def close(self) -> None:
        self.connection.close()


class SqliteReader:
    """A read-only connection of its own: WAL lets it read along while the loop's connection
    writes, and a reader never takes the write lock the loop's writers need."""

    def __init__(self, path: Path) -> None:
        self.connection = connect_read_only(path, check_same_thread=False)  # opened on the loop, used in a worker
        self.inquiries = SqliteInquiries(self.connection)
        self.orders = SqliteOrders(self.connection)
        self.events = SqliteInstitutionEvents(self.connection)

    def close(self) -> None:
        self.connection.close()


class SqliteUnitOfWork:
    """The same repositories, inside one ``BEGIN IMMEDIATE`` transaction: SQLite's write lock is
    taken at the start, so what the block reads cannot change before it commits."""

    def __init__(self, store: SqliteStore) -> None:
        self.inquiries = store.inquiries
        self.orders = store.orders
        self.cases = store.cases
        self.events = store.events
        self.watches = store.watches
        self.alerts = store.alerts
        self._transaction = Transaction(store.connection)

    def __enter__(self) -> SqliteUnitOfWork:
        self._transaction.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._transaction.__exit__(exc_type, exc, tb)


class SqliteSnapshot:
    def __init__(self, path: Path) -> None:
        self.connection = connect_read_only(path)

    def inquiries(self) -> Iterator[InquiryRecord]:
        return map(rows.inquiry, self.connection.execute(f"SELECT {rows.INQUIRY_COLUMNS} FROM inquiries"))

    def published_legs(self) -> Iterator[LegRecord]:
        return map(rows.leg, self.connection.execute(f"SELECT {rows.LEG_COLUMNS} FROM legs WHERE status != 'pending'"))

    def published_orders(self) -> Iterator[OrderRecord]:
        return map(rows.order, self.connection.execute(f"SELECT {rows.ORDER_COLUMNS} FROM orders WHERE status != 'requested'"))

    def close(self) -> None:
        self.connection.close()
