"""Which offsets are safe to commit when messages finish out of order.

Messages of a partition are processed concurrently; the committable offset is the first one not
yet finished, so a crash never skips work that was fetched but not done (at-least-once)."""

from __future__ import annotations

from aiokafka import TopicPartition


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[TopicPartition, set[int]] = {}
        self._next: dict[TopicPartition, int] = {}  # one past the highest offset fetched
        self._committed: dict[TopicPartition, int] = {}

    def started(self, tp: TopicPartition, offset: int) -> None:
        self._pending.setdefault(tp, set()).add(offset)
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)

    def finished(self, tp: TopicPartition, offset: int) -> None:
        pending = self._pending.get(tp)
        if pending is not None:
            pending.discard(offset)

    def in_flight(self, partitions: set[TopicPartition] | None = None) -> int:
        return sum(len(p) for tp, p in self._pending.items() if partitions is None or tp in partitions)

    def committable(self) -> dict[TopicPartition, int]:
        """Offsets to commit now: per partition, the lowest unfinished offset, or all fetched."""
        out = {}
        for tp, nxt in self._next.items():
            pending = self._pending.get(tp)
            offset = min(pending) if pending else nxt
            if offset > self._committed.get(tp, -1):
                out[tp] = offset
        return out

    @property
    def committed(self) -> dict[TopicPartition, int]:
        return dict(self._committed)

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    def forget(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self._pending.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)
