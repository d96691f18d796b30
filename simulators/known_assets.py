"""Which assets the network knows of, per institution: those an institution reported in an answer
to a query, or that a court's control order named. Only their changes are news to the network
(real banks notify courts about accounts under inquiry or control, not about every customer)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from simulators.journal import Journal, NullJournal


class KnownAssets:
    def __init__(self, journal: Journal | None = None) -> None:
        self._keys: set[tuple[str, str]] = set()
        self._by_institution: dict[str, list[str]] = {}  # in the order the network learnt of them
        self._journal = journal or NullJournal()

    def add(self, institution_id: str, asset_id: str) -> None:
        if (institution_id, asset_id) not in self._keys:
            self._learn(institution_id, asset_id)
            self._journal.asset_known(institution_id, asset_id)  # only news is written: a repeat query writes nothing

    def restore(self, known: Iterable[tuple[str, str]]) -> None:
        """What a restarted institution had told the network, in the order it told it."""
        for institution_id, asset_id in known:
            if (institution_id, asset_id) not in self._keys:
                self._learn(institution_id, asset_id)

    def _learn(self, institution_id: str, asset_id: str) -> None:
        self._keys.add((institution_id, asset_id))
        self._by_institution.setdefault(institution_id, []).append(asset_id)

    def knows(self, institution_id: str, asset_id: str) -> bool:
        return (institution_id, asset_id) in self._keys

    def at(self, institution_id: str) -> Sequence[str]:
        """The institution's known asset ids (a live view: read, do not change)."""
        return self._by_institution.get(institution_id, ())

    def institutions(self) -> list[str]:
        return list(self._by_institution)
