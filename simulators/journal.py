"""What an institution must not forget: the seam between its in-memory state and its storage.

The ledgers, the order desk's answers, the known assets, the event feeds, the clock and the
partner link's nonces tell a ``Journal`` each change as they make it; ``flush`` then writes
everything told since the last flush in one transaction. The apps flush before an answer leaves
(``simulators.apps``), so whatever a partner was told survives a crash of the process, and a change
and what records it (an order's ledger, its answer, its events) are stored together or not at all.

``NullJournal`` keeps nothing: unit tests and a simulator run without a data directory.
``simulators.store`` is the SQLite one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from schemas.events import InstitutionEvent
    from simulators.ledger import AssetLedger


class JournalError(RuntimeError):
    """The changes could not be stored; they stay pending for the next flush."""


class Journal(Protocol):
    def ledger_changed(self, ledger: AssetLedger) -> None: ...
    def answered(self, institution_id: str, order_id: str, record: dict[str, Any], changed: bool) -> None: ...
    def asset_known(self, institution_id: str, asset_id: str) -> None: ...
    def event_served(self, event: InstitutionEvent) -> None: ...
    def feed_moved(self, institution_id: str, last_seq: int, to_lose: int) -> None: ...
    def clock_moved(self, offset: timedelta) -> None: ...
    def nonce_seen(self, key_id: str, nonce: str, at: float) -> None: ...
    def restrictions_changed(self, institution_id: str, id_number: str, state: dict[str, Any]) -> None:
        """A carrier's record of one person changed (``simulators.restrictions``): ``state`` is all of it."""
        ...

    def flush(self) -> None:
        """Store every change told since the last flush, atomically; ``JournalError`` if not."""
        ...


class NullJournal:
    """Remembers nothing: state lives as long as the process."""

    def ledger_changed(self, ledger: AssetLedger) -> None:
        pass

    def answered(self, institution_id: str, order_id: str, record: dict[str, Any], changed: bool) -> None:
        pass

    def asset_known(self, institution_id: str, asset_id: str) -> None:
        pass

    def event_served(self, event: InstitutionEvent) -> None:
        pass

    def feed_moved(self, institution_id: str, last_seq: int, to_lose: int) -> None:
        pass

    def clock_moved(self, offset: timedelta) -> None:
        pass

    def nonce_seen(self, key_id: str, nonce: str, at: float) -> None:
        pass

    def restrictions_changed(self, institution_id: str, id_number: str, state: dict[str, Any]) -> None:
        pass

    def flush(self) -> None:
        pass
