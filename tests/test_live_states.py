"""Institutions speak first (issue 14), as the gateway takes it: events about orders and accounts
through the real chain, and events the gateway cannot place dead-lettered with the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from assetgw.ops.dlq import list_dead_letters
from infra.kafka.topics import institution_events_topic
from schemas.events import FreezeState, InstitutionEvent, event_key
from schemas.messages import encode
from tests.helpers import COURT_A, get_json, has_account, open_case, ops_settings, order_body, pick, place, wait_for


async def publish(stack, events: list[InstitutionEvent]) -> None:  # type: ignore[no-untyped-def]
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(institution_events_topic(stack.env["ASSETGW_TOPIC_PREFIX"]), encode(e), key=event_key(e))
    finally:
        await producer.stop()


def crafted(institution_id: str, asset_id: str, **fields: Any) -> InstitutionEvent:
    seq = 10**9  # far beyond any real feed position, so no real event of the asset is mistaken for a repeat of it
    return InstitutionEvent(event_id=f"{institution_id}:{seq}", seq=seq, institution_id=institution_id, type="freeze_captured",
                            at=datetime.now(UTC), asset_kind="deposit", asset_id=asset_id, **fields)


async def test_events_the_gateway_cannot_place_are_dead_lettered_with_the_reason_and_change_nothing(
        stack, api, population, credential) -> None:  # type: ignore[no-untyped-def]
    debtor = pick(population, has_account(10_000), kind="organisation")
    case, assets = await open_case(api, debtor, credential)
    account = next(a for a in assets if a["kind"] == "deposit" and a["value_fen"] >= 10_000)
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=5_000, term_days=30))
    inst, number = account["institution_id"], account["account_no"]
    state = FreezeState(freeze_id=freeze["id"], court=COURT_A, status="released", held_fen=0, requested_fen=5_000)
    bad = {
        "unknown institution": crafted("bank-99", number, freeze=state),
        "unknown asset": crafted(inst, "6200000000000000000", freeze=state),
        "unknown freeze": crafted(inst, number, freeze=state.model_copy(update={"freeze_id": "f-nobody-ordered"})),
    }
    await publish(stack, list(bad.values()))
    settings = ops_settings(stack)

    async def letters() -> dict[str, str] | None:
        found = {}
        for letter in await list_dead_letters(settings, progress=False, source_topic=institution_events_topic(settings.topic_prefix)):
            for reason, e in bad.items():
                if e.event_id.encode() in letter.value and reason in letter.reason and letter.key == event_key(e):
                    found[reason] = letter.reason
        return found if len(found) == len(bad) else None

    reasons = await wait_for(letters, 30, what="the three events to be dead-lettered")
    assert "bank-99" in reasons["unknown institution"] and "in no report" in reasons["unknown asset"]
    assert "f-nobody-ordered" in reasons["unknown freeze"]
    after = await get_json(api, f"/v1/orders/{freeze['id']}")
    assert (after["status"], after["history"]) == (freeze["status"], freeze["history"])  # nothing changed
