"""The event relay: institutions speak first, the relay carries what they say to Kafka.

One task per institution of the worker's kind long-polls its feed through the kind's connector
(``Connector.events``: ``after=cursor``, ``PAGE_SIZE`` events, ``WAIT_S`` seconds), hands the page
to the ``EventSink`` (events topic keyed by asset, dead letters for bad events, every record
acknowledged), and only then saves the cursor (``cursors.py``). A crash between the two repeats at
most that page; a lost cursor repeats the whole feed; the gateway dedupes by ``event_id``, so both
are harmless: exactly once in effect.

Polls go through an ``InstitutionCalls`` of the relay's own (retries, an in-flight cap and a
circuit breaker per institution): a long-poll held open for seconds must not be the half-open
probe the legs wait on, nor take one of their slots.
A poll that still fails is counted and tried again after a growing pause; the relay never stops
for an institution's sake. It stops with the worker's stop event, abandoning a poll in flight.

Several instances of one kind's worker would each relay every feed: harmless, but twice the
calls. So only the instance that holds partition 0 of the kind's orders topic relays
(``leading``); the others wait, and pick up from the saved cursor when the partition comes to
them (from 0, if they do not share the data directory).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import structlog

from connectors.contract.base import Connector, EventPage, Permanent, Retryable
from connectors.runtime.calls import Attempts, InstitutionCalls, observe
from connectors.runtime.cursors import CursorStore
from connectors.runtime.event_sink import EventSink
from infra import metrics
from infra.settings import Settings
from schemas.directory import Institution

log = structlog.get_logger("connector")

WAIT_S = 10.0  # the long-poll: an event is relayed as soon as it exists, an idle feed costs a call per 10 s
PAGE_SIZE = 500
# An institution that answers an empty page at once (it does not long-poll) is asked at most this often.
MIN_POLL_INTERVAL_S = 1.0
MAX_PAUSE_S = 30.0  # after failures, between polls
LEADER_CHECK_S = 1.0


def pause_s(failures: int) -> float:
    """After ``failures`` polls in a row failed: 1 s, 2 s, 4 s … up to 30 s, jittered."""
    return min(MAX_PAUSE_S, 2.0 ** (failures - 1)) * random.uniform(0.5, 1.0)


class EventRelay:
    def __init__(self, connector: Connector, institutions: list[Institution], settings: Settings, calls: InstitutionCalls,
                 sink: EventSink, cursors: CursorStore, leading: Callable[[], bool] = lambda: True) -> None:
        self.connector = connector
        self.institutions = institutions
        self.settings = settings
        self.calls = calls
        self.sink = sink
        self.cursors = cursors
        self.leading = leading
        self._caught_up: dict[str, float] = {}  # when each feed was last read to its end (monotonic)
        for institution in institutions:
            self._caught_up[institution.id] = time.monotonic()
            metrics.EVENT_RELAY_LAG.labels(institution.id).set_function(self._lag_of(institution.id))

    def _lag_of(self, institution_id: str) -> Callable[[], float]:
        return lambda: time.monotonic() - self._caught_up[institution_id] if self.leading() else 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: one follower per institution."""
        tasks = [asyncio.create_task(self.follow(institution), name=f"relay-{institution.id}") for institution in self.institutions]
        log.info("event relay starting", institutions=len(tasks))
        try:
            await stop.wait()
        finally:
            for task in tasks:  # a poll in flight is abandoned; its page was not saved, so it is asked again
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            log.info("event relay stopped")

    async def follow(self, institution: Institution) -> None:
        """Relay one institution's feed for ever (until cancelled)."""
        cursor: int | None = None
        failures = 0
        while True:
            if not self.leading():
                cursor = None  # another instance may move it meanwhile: read it again on taking over
                self._caught_up[institution.id] = time.monotonic()
                await asyncio.sleep(LEADER_CHECK_S)
                continue
            if cursor is None:
                cursor = await asyncio.to_thread(self.cursors.load, institution.id)
                metrics.EVENT_CURSOR.labels(institution.id).set(cursor)
                log.info("relaying events", institution=institution.id, after=cursor)
            started = time.monotonic()
            try:
                page, cursor = await self._relay_page(institution, cursor)
            except Exception as exc:  # whatever failed (a disk error too), carry on from the saved cursor after a pause
                failures += 1
                metrics.EVENT_POLL_ERRORS.labels(institution.id).inc()
                pause = MAX_PAUSE_S if isinstance(exc, Permanent) else pause_s(failures)
                if isinstance(exc, (Retryable, Permanent, TimeoutError)):
                    log.warning("event poll failed", institution=institution.id, after=cursor, failures=failures,
                                error=str(exc) or type(exc).__name__, pause_s=round(pause, 1))
                else:
                    log.exception("event relay failed", institution=institution.id, after=cursor, failures=failures)
                    cursor = None  # read it again: a save may or may not have happened
                await asyncio.sleep(pause)
                continue
            failures = 0
            if len(page.events) < PAGE_SIZE:
                self._caught_up[institution.id] = time.monotonic()
            if not page.events and (idle := MIN_POLL_INTERVAL_S - (time.monotonic() - started)) > 0:
                await asyncio.sleep(idle)

    async def _relay_page(self, institution: Institution, cursor: int) -> tuple[EventPage, int]:
        """One page: polled, published and acknowledged, then the cursor saved; the new cursor."""
        page = await self._poll(institution, cursor)
        if page.events:
            await self.sink.publish(institution.id, page.events)
        if page.next != cursor:
            await asyncio.to_thread(self.cursors.save, institution.id, page.next)
            metrics.EVENT_CURSOR.labels(institution.id).set(page.next)
        return page, page.next

    async def _poll(self, institution: Institution, after: int) -> EventPage:
        attempts = Attempts()
        started = time.monotonic()
        attempt_s = WAIT_S + self.settings.call_timeout_s
        try:
            return await self.calls.call(institution, lambda: self.connector.events(institution, after, WAIT_S, PAGE_SIZE),
                                         attempts, within_s=attempt_s * self.settings.call_attempts + MAX_PAUSE_S,
                                         attempt_timeout_s=attempt_s)
        finally:
            observe(institution.id, "events", started, attempts.count)
