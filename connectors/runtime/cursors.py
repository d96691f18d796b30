"""Where the event relay keeps its place in each institution's feed: one small JSON file per
institution, ``{data_dir}/connector-cursors/{institution_id}.json``, replaced atomically (write a
temporary file, fsync, rename), so a crash leaves the old cursor or the new one, never half of one.

A cursor is saved only after the events before it are acknowledged by the broker, so it never runs
ahead of the topic. A lost or unreadable cursor reads as 0: the relay starts the feed again, which
only repeats events, and the gateway dedupes them by ``event_id``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

import orjson
import structlog

from schemas.messages import utcnow

log = structlog.get_logger("connector")

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class CursorStore(Protocol):
    def load(self, institution_id: str) -> int:
        """The last feed position relayed and acknowledged; 0 when none is known."""
        ...

    def save(self, institution_id: str, after: int) -> None:
        """Durably, before returning: the next start asks the feed ``after`` this."""
        ...


def cursor_dir(data_dir: Path) -> Path:
    return data_dir / "connector-cursors"


class FileCursorStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, institution_id: str) -> Path:
        if not _SAFE_ID.fullmatch(institution_id):  # ids come from the directory; never a path
            raise ValueError(f"not an institution id for a cursor file: {institution_id!r}")
        return self.directory / f"{institution_id}.json"

    def load(self, institution_id: str) -> int:
        path = self.path(institution_id)
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return 0
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("cursor unreadable, reading the feed from the start", institution=institution_id, path=str(path), error=repr(exc))
            return 0
        after = data.get("after") if isinstance(data, dict) else None
        if (not isinstance(after, int) or isinstance(after, bool) or after < 0
                or data.get("institution_id") != institution_id):
            log.warning("cursor not valid, reading the feed from the start", institution=institution_id, path=str(path))
            return 0
        return after

    def save(self, institution_id: str, after: int) -> None:
        if after < 0:
            raise ValueError(f"a feed position is not negative: {after}")
        path = self.path(institution_id)
        self.directory.mkdir(parents=True, exist_ok=True)
        body = orjson.dumps({"institution_id": institution_id, "after": after, "saved_at": utcnow().isoformat()})
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # per process: two relays never share one
        with open(temporary, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
