"""Which assets the network knows of, per institution: those an institution reported in an answer
to a query, or that a court's control order named. Only their changes are news to the network
(real banks notify courts about accounts under inquiry or control, not about every customer)."""

from __future__ import annotations

from collections.abc import Sequence


class KnownAssets:
    def __init__(self) -> None:
        self._keys: set[tuple[str, str]] = set()
        self._by_institution: dict[str, list[str]] = {}  # in the order the network learnt of them

    def add(self, institution_id: str, asset_id: str) -> None:
        if (institution_id, asset_id) not in self._keys:
            self._keys.add((institution_id, asset_id))
            self._by_institution.setdefault(institution_id, []).append(asset_id)

    def knows(self, institution_id: str, asset_id: str) -> bool:
        return (institution_id, asset_id) in self._keys

    def at(self, institution_id: str) -> Sequence[str]:
        """The institution's known asset ids (a live view: read, do not change)."""
        return self._by_institution.get(institution_id, ())

    def institutions(self) -> list[str]:
        return list(self._by_institution)
