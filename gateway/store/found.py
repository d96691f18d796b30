"""The assets a case's inquiries found, the one query both stores use, in SQL that SQLite and
PostgreSQL read alike (``p`` is the store's parameter marker, as in ``money.py``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson

from gateway.store.records import FoundAsset
from schemas.assets import asset_id


def case_assets(db: Any, p: str, case_number: str, order: str, *, institutions: Collection[str] | None = None,
                debtors: Collection[str] | None = None) -> list[FoundAsset]:
    """Every asset found for the case, once each (the latest answer wins; ``order`` orders the
    inquiries oldest first), or only those held at ``institutions`` or by ``debtors``."""
    where, params = [f"q.case_number = {p}"], [case_number]
    for column, values in (("l.institution_id", institutions), ("d.id_number", debtors)):
        if values is not None:
            if not values:
                return []
            where.append(f"{column} IN ({', '.join([p] * len(values))})")
            params.extend(values)
    seen: dict[tuple[str, str, str], FoundAsset] = {}
    for id_number, assets in db.execute(
        "SELECT d.id_number, l.assets FROM legs l JOIN inquiries q ON q.id = l.inquiry_id"
        " JOIN debtors d ON d.inquiry_id = l.inquiry_id AND d.seq = l.debtor_seq"
        f" WHERE {' AND '.join(where)} AND l.assets IS NOT NULL ORDER BY {order}", params,
    ):
        for asset in orjson.loads(assets):
            seen[(id_number, asset["institution_id"], asset_id(asset))] = FoundAsset(id_number, asset)
    return list(seen.values())
