"""What institutions said on their own, applied: each event once, the freezes and balances it
carries set equal to the institution's ledger, every change of an order in its audit trail; and
reconciliation reports applied the same way, each difference kept with the run (the SQL of
gateway/store/sqlite/events.py in PostgreSQL's words; rows an answer changes are locked first, so
two gateways applying to one order or run take turns)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from gateway.orders.states import TRACKED_FREEZE
from gateway.store import rows
from gateway.store.postgres.connection import Connection, retried, transaction
from gateway.store.postgres.orders import set_freeze_state
from gateway.store.records import AssetBalance, Difference, Reconciliation, Tracked
from schemas.assets import asset_id
from schemas.events import ControlStatusReport, InstitutionEvent, event_subject
from schemas.orders import MONEY_KINDS

Key = tuple[str, str]  # (institution_id, asset_id)


class PgInstitutionEvents:
    def __init__(self, db: Connection) -> None:
        self.db = db

    # -- what the gateway knows -----------------------------------------------------------------

    def knows_asset(self, institution_id: str, asset: str) -> bool:
        return self.db.execute(
            "SELECT 1 FROM known_assets WHERE institution_id = %s AND asset_id = %s"
            " UNION ALL SELECT 1 FROM orders WHERE institution_id = %s AND asset_id = %s LIMIT 1",
            (institution_id, asset, institution_id, asset),
        ).fetchone() is not None

    def knows_freeze(self, institution_id: str, asset: str, freeze_id: str) -> bool:
        return self.db.execute(
            "SELECT 1 FROM orders WHERE id = %s AND type = 'freeze' AND institution_id = %s AND asset_id = %s",
            (freeze_id, institution_id, asset),
        ).fetchone() is not None

    # -- events ---------------------------------------------------------------------------------

    @retried
    def apply(self, events: Sequence[InstitutionEvent], now: int) -> list[InstitutionEvent]:
        new: list[InstitutionEvent] = []
        db = self.db
        with transaction(db):
            for e in events:
                subject = event_subject(e)
                row = db.execute("SELECT last_seq FROM event_subjects WHERE institution_id = %s AND subject = %s FOR UPDATE",
                                 (e.institution_id, subject)).fetchone()
                if row is not None and row[0] >= e.seq:
                    continue  # seen: a redelivery, a replay, or the relay starting over
                db.execute(
                    "INSERT INTO event_subjects (institution_id, subject, last_seq, updated_at) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (institution_id, subject) DO UPDATE SET last_seq = excluded.last_seq, updated_at = excluded.updated_at",
                    (e.institution_id, subject, e.seq, now),
                )
                if e.balance_fen is not None and e.asset_id is not None:
                    _set_balance(db, e.institution_id, e.asset_id, e.balance_fen, e.seq, e.at.isoformat(), now)
                if e.freeze is not None:
                    set_freeze_state(db, e.freeze, e.institution_id, e.seq, now, e.type, _why(e))
                new.append(e)
        return new

    def balances(self, keys: Iterable[Key]) -> dict[Key, AssetBalance]:
        # One primary-key lookup per asset: a report names a few dozen, an institution may have
        # thousands of balances.
        out = {}
        for key in set(keys):
            row = self.db.execute("SELECT institution_id, asset_id, balance_fen, as_of_seq, at FROM asset_states"
                                  " WHERE institution_id = %s AND asset_id = %s", key).fetchone()
            if row is not None:
                out[key] = AssetBalance(*row)
        return out

    # -- reconciliation -------------------------------------------------------------------------

    def tracked(self, failed_since: int) -> dict[str, Tracked]:
        """Per institution: its live freezes, freezes that failed since ``failed_since`` (the
        connector gave up, but the institution may have applied it), and the money assets whose
        balance the gateway shows (those an event told of, and those under a live freeze)."""
        freezes: dict[str, list[str]] = {}
        assets: dict[str, set[str]] = {}
        for order_id, institution, kind, asset in self.db.execute(
            "SELECT id, institution_id, asset_kind, asset_id FROM orders WHERE type = 'freeze'"
            f" AND (status IN ({', '.join(['%s'] * len(TRACKED_FREEZE))}) OR (status = 'failed' AND updated_at >= %s))",
            (*TRACKED_FREEZE, failed_since),
        ):
            freezes.setdefault(institution, []).append(order_id)
            if kind in MONEY_KINDS:
                assets.setdefault(institution, set()).add(asset)
        for institution, asset in self.db.execute("SELECT institution_id, asset_id FROM asset_states"):
            assets.setdefault(institution, set()).add(asset)
        return {inst: Tracked(tuple(freezes.get(inst, ())), tuple(sorted(assets.get(inst, ()))))
                for inst in sorted(freezes.keys() | assets.keys())}

    def apply_report(self, report: ControlStatusReport, now: int) -> list[Difference]:
        """The institution's ledger as of ``report.as_of_seq``: set where it is newer than what the
        gateway has, and say what differed."""
        differences: list[Difference] = []
        inst, seq = report.institution_id, report.as_of_seq
        db = self.db
        with transaction(db):
            for state in report.freezes:
                differences += set_freeze_state(db, state, inst, seq, now, "reconciled",
                                                {"why": "reconciliation: the institution's ledger differs", "run_id": report.run_id})
            for missing in report.unknown_freeze_ids:
                status = db.execute("SELECT status FROM orders WHERE id = %s", (missing,)).fetchone()
                if status is not None and status[0] == "failed":
                    continue  # as the gateway has it: never applied
                differences.append(Difference(inst, missing, "freeze", "tracked", "no record at the institution"))
            for b in report.balances:
                before = db.execute("SELECT balance_fen, as_of_seq FROM asset_states WHERE institution_id = %s AND asset_id = %s",
                                    (inst, b.asset_id)).fetchone()
                if before is not None and before[1] > seq:
                    continue  # an event newer than the report already set it
                if before is None or before[0] != b.balance_fen:
                    differences.append(Difference(inst, b.asset_id, "balance_fen", before[0] if before else None, b.balance_fen))
                _set_balance(db, inst, b.asset_id, b.balance_fen, seq, report.answered_at.isoformat(), now)
        return differences


class PgReconciliations:
    def __init__(self, db: Connection) -> None:
        self.db = db

    def start(self, run_id: str, now: int, requested_by: str, institutions: Sequence[str]) -> None:
        db = self.db
        with transaction(db):
            db.execute(
                "INSERT INTO reconciliations (run_id, started_at, requested_by, institutions, finished_at) VALUES (%s, %s, %s, %s, %s)",
                (run_id, now, requested_by, rows.dump(list(institutions)), None if institutions else now),
            )

    def record(self, run_id: str, institution_id: str, outcome: str, differences: Sequence[Difference], now: int) -> None:
        """An institution's answer (``outcome``: "answered" or why it failed); the run finishes
        with its last institution. A repeated answer changes nothing."""
        db = self.db
        with transaction(db):
            run = _run(db, run_id, lock=True)
            if run is None or institution_id in run.answered or institution_id not in run.institutions:
                return
            answered = {**run.answered, institution_id: outcome}
            found = [*(_difference_json(d) for d in run.differences), *(_difference_json(d) for d in differences)]
            done = now if set(answered) >= set(run.institutions) else None
            db.execute("UPDATE reconciliations SET answered = %s, differences = %s, finished_at = %s WHERE run_id = %s",
                       (rows.dump(answered), rows.dump(found), done, run_id))

    def get(self, run_id: str) -> Reconciliation | None:
        return _run(self.db, run_id)

    def recent(self, limit: int = 20) -> list[Reconciliation]:
        return [_record(r) for r in self.db.execute(f"SELECT {_RUN_COLUMNS} FROM reconciliations ORDER BY started_at DESC LIMIT %s", (limit,))]


def remember_assets(db: Connection, assets: Iterable[dict[str, Any]]) -> None:
    known = sorted({(a["institution_id"], asset_id(a), a["kind"]) for a in assets})  # in key order: no deadlock between gateways
    db.execute("INSERT INTO known_assets (institution_id, asset_id, asset_kind)"
               " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING",
               ([k[0] for k in known], [k[1] for k in known], [k[2] for k in known]))


def _set_balance(db: Connection, institution_id: str, asset: str, balance_fen: int, seq: int, at: str, now: int) -> None:
    db.execute(
        "INSERT INTO asset_states (institution_id, asset_id, balance_fen, as_of_seq, at, updated_at) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (institution_id, asset_id) DO UPDATE SET balance_fen = excluded.balance_fen,"
        " as_of_seq = excluded.as_of_seq, at = excluded.at, updated_at = excluded.updated_at WHERE asset_states.as_of_seq <= excluded.as_of_seq",
        (institution_id, asset, balance_fen, seq, at, now),
    )


_WHY = {
    "freeze_captured": "funds arrived and the freeze captured them",
    "freeze_promoted": "the freeze ahead in the 轮候 queue ended; this one took effect",
    "queue_advanced": "a freeze ahead in the 轮候 queue ended or took effect",
    "freeze_lapsed": "the freeze reached its end date",
    "freeze_released": "the freeze was released",
    "deduction_executed": "frozen funds were deducted",
}


def _why(e: InstitutionEvent) -> dict[str, Any]:
    return {"why": _WHY.get(e.type, e.type), "event_id": e.event_id, "at": e.at.isoformat(),
            **({"amount_fen": e.amount_fen} if e.amount_fen is not None else {})}


_RUN_COLUMNS = "run_id, started_at, requested_by, institutions, answered, differences, finished_at"


def _run(db: Connection, run_id: str, lock: bool = False) -> Reconciliation | None:
    row = db.execute(f"SELECT {_RUN_COLUMNS} FROM reconciliations WHERE run_id = %s{' FOR UPDATE' if lock else ''}",
                     (run_id,)).fetchone()
    return _record(row) if row else None


def _record(row: tuple) -> Reconciliation:  # type: ignore[type-arg]
    return Reconciliation(row[0], row[1], row[2], tuple(orjson.loads(row[3])), orjson.loads(row[4]),
                          tuple(Difference(**d) for d in orjson.loads(row[5])), row[6])


def _difference_json(d: Difference) -> dict[str, Any]:
    return {"institution_id": d.institution_id, "subject": d.subject, "field": d.field, "gateway": d.gateway, "institution": d.institution}
