"""Watches and their alerts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import orjson

from gateway.store.records import AlertRecord, NewAlert, NewWatch, WatchRecord
from gateway.store.rows import dump

_WATCH_COLUMNS = ("id, idempotency_key, request_digest, case_number, court, debtor_id_number, kinds, until, auto_freeze,"
                  " officer_id, created_at, ended_at, ended_by")
_ALERT_COLUMNS = ("seq, watch_id, event_id, case_number, court, debtor_id_number, kind, event_type, institution_id, at,"
                  " summary, detail, created_at")


def _watch(row: tuple) -> WatchRecord:  # type: ignore[type-arg]
    return WatchRecord(*row[:6], tuple(orjson.loads(row[6])), row[7], orjson.loads(row[8]) if row[8] else None, *row[9:])


def _alert(row: tuple) -> AlertRecord:  # type: ignore[type-arg]
    return AlertRecord(*row[:11], orjson.loads(row[11]), row[12])


class SqliteWatches:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add(self, watch: NewWatch) -> None:
        self.db.execute(
            f"INSERT INTO watches ({_WATCH_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,NULL)",
            (watch.id, watch.idempotency_key, watch.request_digest, watch.case_number, watch.court, watch.debtor_id_number,
             dump(list(watch.kinds)), watch.until, dump(watch.auto_freeze) if watch.auto_freeze is not None else None,
             watch.officer_id, watch.created_at))

    def get(self, watch_id: str) -> WatchRecord | None:
        row = self.db.execute(f"SELECT {_WATCH_COLUMNS} FROM watches WHERE id = ?", (watch_id,)).fetchone()
        return _watch(row) if row else None

    def by_key(self, idempotency_key: str) -> WatchRecord | None:
        row = self.db.execute(f"SELECT {_WATCH_COLUMNS} FROM watches WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
        return _watch(row) if row else None

    def of_court(self, court: str, case_number: str | None = None) -> list[WatchRecord]:
        if case_number is None:
            rows = self.db.execute(f"SELECT {_WATCH_COLUMNS} FROM watches WHERE court = ? ORDER BY created_at, id", (court,))
        else:
            rows = self.db.execute(f"SELECT {_WATCH_COLUMNS} FROM watches WHERE court = ? AND case_number = ?"
                                   " ORDER BY created_at, id", (court, case_number))
        return [_watch(r) for r in rows]

    def active_on(self, debtor_id_number: str, kind: str, at: int) -> list[WatchRecord]:
        rows = self.db.execute(f"SELECT {_WATCH_COLUMNS} FROM watches WHERE debtor_id_number = ? AND until > ?"
                               " AND ended_at IS NULL ORDER BY created_at, id", (debtor_id_number, at))
        return [w for w in map(_watch, rows) if kind in w.kinds]  # a watch has at most three kinds

    def end(self, watch_id: str, by: str, at: int) -> bool:
        cursor = self.db.execute("UPDATE watches SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL", (at, by, watch_id))
        return cursor.rowcount == 1


class SqliteAlerts:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add(self, alert: NewAlert) -> AlertRecord | None:
        cursor = self.db.execute(
            "INSERT INTO alerts (watch_id, event_id, case_number, court, debtor_id_number, kind, event_type, institution_id, at,"
            " summary, detail, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (watch_id, event_id) DO NOTHING",
            (alert.watch_id, alert.event_id, alert.case_number, alert.court, alert.debtor_id_number, alert.kind, alert.event_type,
             alert.institution_id, alert.at, alert.summary, dump(alert.detail), alert.created_at))
        if cursor.rowcount != 1:
            return None
        return AlertRecord(cursor.lastrowid, alert.watch_id, alert.event_id, alert.case_number, alert.court,  # type: ignore[arg-type]
                           alert.debtor_id_number, alert.kind, alert.event_type, alert.institution_id, alert.at, alert.summary,
                           alert.detail, alert.created_at)

    def exists(self, watch_id: str, event_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM alerts WHERE watch_id = ? AND event_id = ?", (watch_id, event_id)).fetchone() is not None

    def after(self, court: str, after_seq: int, limit: int, case_number: str | None = None) -> list[AlertRecord]:
        if case_number is None:
            rows = self.db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE court = ? AND seq > ? ORDER BY seq LIMIT ?",
                                   (court, after_seq, limit))
        else:
            rows = self.db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE court = ? AND seq > ? AND case_number = ?"
                                   " ORDER BY seq LIMIT ?", (court, after_seq, case_number, limit))
        return [_alert(r) for r in rows]

    def counts(self, court: str, case_numbers: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(case_numbers))
        if not wanted:
            return {}
        return dict(self.db.execute(
            f"SELECT case_number, count(*) FROM alerts WHERE court = ? AND case_number IN ({', '.join('?' * len(wanted))})"
            " GROUP BY case_number", (court, *wanted)))
