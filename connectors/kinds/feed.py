"""The institutions' event feed on the wire, alike for every kind (payment apps included: the feed
is outside their gateway envelope): ``GET /{institution}/events?after=SEQ&limit=N&wait=S``, signed
like every partner request, answers ``{"events": [...], "next": SEQ}`` oldest first. ``wait`` asks
the institution to hold the call until an event exists (a long-poll, whole seconds, 0–30); an
institution that does not know it answers at once, which the relay paces."""

from __future__ import annotations

from connectors.contract.base import EventPage, Permanent, Retryable
from connectors.contract.transport import Transport
from connectors.kinds.http_errors import check_status, require_dict
from schemas.directory import Institution

MAX_WAIT_S = 30  # the feed's limit on a long-poll


async def read_feed(transport: Transport, institution: Institution, after: int, wait_s: float, limit: int) -> EventPage:
    wait = max(0, min(MAX_WAIT_S, round(wait_s)))
    reply = await transport.send("GET", f"/{institution.id}/events?after={after}&limit={limit}&wait={wait}")
    check_status(reply, institution.id)
    if reply.status == 403:
        raise Permanent(f"{institution.id} forbade reading its event feed: {reply.body}")
    return feed_page(require_dict(reply, institution.id), institution, after)


def feed_page(data: dict, institution: Institution, after: int) -> EventPage:
    """A garbled page is worth asking again: nothing was taken from it, the cursor stays."""
    events, next_seq = data.get("events"), data.get("next")
    if not isinstance(events, list) or not isinstance(next_seq, int) or isinstance(next_seq, bool):
        raise Retryable(f"{institution.id} sent an event page without a list of events and a whole-number next")
    if next_seq < after:
        # Going back would read events again for ever; an institution whose feed restarted must
        # be caught up by hand (reset the cursor file, see docs/operations.md).
        raise Permanent(f"{institution.id} answered next={next_seq} after={after}: its feed went backwards")
    if events and next_seq == after:  # the same page again and again otherwise
        raise Retryable(f"{institution.id} sent {len(events)} events but did not move next past {after}")
    return EventPage(events, next_seq)
