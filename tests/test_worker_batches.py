"""How a connector worker asks institutions for a message's legs: per institution, in chunks of
the connector's ``max_batch``, retrying only the legs an answer left out, one terminal result per
leg whatever happens. The connector here is a scripted plug-in at the ``Connector`` seam (as httpx's mock
transport is at its seam); the end-to-end tests cover the real connectors and simulators."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from connectors.contract.base import Answer, Found, NotFound, Permanent, Refused, Retryable
from connectors.runtime.calls import InstitutionCalls
from connectors.runtime.legs import LegAnswers
from infra.settings import Settings
from schemas.assets import DepositAccount
from schemas.debtor import Debtor
from schemas.directory import Institution
from schemas.messages import LegBatch, LegBatchResult, LegItem, utcnow

DEBTOR = Debtor(id_number="11010519491231002X", name="张三")


class ScriptedBank:
    """Answers each call through ``script(call_number, leg_ids)`` and records the calls."""

    kind: ClassVar[str] = "bank"
    max_batch: ClassVar[int] = 100

    def __init__(self, script: Callable[[int, list[str]], Mapping[str, Answer]]) -> None:
        self.script = script
        self.calls: list[list[str]] = []

    async def query(self, institution: Institution, batch: LegBatch) -> Mapping[str, Answer]:
        ids = [leg.leg_id for leg in batch.legs]
        assert len(ids) <= self.max_batch, "the worker sent more legs than the connector's max_batch"
        assert {leg.institution_id for leg in batch.legs} == {institution.id}, "legs of another institution in the call"
        self.calls.append(ids)
        return self.script(len(self.calls), ids)

    async def control(self, institution: Institution, order: Any) -> dict:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


def batch_of(n: int, deadline_in: timedelta = timedelta(minutes=5), institutions: tuple[str, ...] = ("bank-01",)) -> LegBatch:
    return LegBatch(
        inquiry_id="q1", case_number="(2025)冀0108执1号", court="石家庄市裕华区人民法院", notice_number="n-1",
        officer_credentials=["ZF00000000"], institution_kind="bank", deadline=utcnow() + deadline_in,
        legs=[LegItem(leg_id=f"q1.{i}.{inst}", institution_id=inst, debtor=DEBTOR) for inst in institutions for i in range(n)],
    )


@pytest.fixture
def settings() -> Settings:
    return dataclasses.replace(Settings.from_env(), call_attempts=3, call_timeout_s=2.0)


def leg_answers(settings: Settings, connector: ScriptedBank) -> LegAnswers:
    """What the worker asks a message's legs with (connectors/runtime/legs.py)."""
    return LegAnswers(connector, settings, InstitutionCalls(settings))


async def parts_of(settings: Settings, connector: ScriptedBank, batch: LegBatch) -> list[LegBatchResult]:
    """The parts of the answer, in the order the worker would publish them."""
    parts = [(part, last) async for part, last in leg_answers(settings, connector).answers(batch)]
    assert [last for _, last in parts] == [False] * (len(parts) - 1) + [True], "only the final part is marked last"
    return [part for part, _ in parts]


async def ask(settings: Settings, connector: ScriptedBank, batch: LegBatch) -> LegBatchResult:
    """The whole answer, its results in the order of the batch's legs, each leg answered once."""
    results = {r.leg_id: r for part in await parts_of(settings, connector, batch) for r in part.results}
    assert sorted(results) == sorted(leg.leg_id for leg in batch.legs)
    return LegBatchResult(inquiry_id=batch.inquiry_id, answered_at=utcnow(), results=[results[leg.leg_id] for leg in batch.legs])


def account() -> DepositAccount:
    return DepositAccount(institution_id="bank-01", account_no="6222021238173688875", account_type="savings", value_fen=100)


async def test_a_batch_is_asked_in_chunks_of_max_batch_and_each_leg_gets_its_own_answer(settings) -> None:  # type: ignore[no-untyped-def]
    def answers(_: int, ids: list[str]) -> dict[str, Answer]:
        out: dict[str, Answer] = {}
        for leg_id in ids:
            n = int(leg_id.split(".")[1])
            out[leg_id] = Found([account()]) if n % 3 == 0 else NotFound() if n % 3 == 1 else Refused("no basis")
        return out

    bank = ScriptedBank(answers)
    result = await ask(settings, bank, batch_of(250))
    assert [len(c) for c in bank.calls] == [100, 100, 50]
    assert [r.leg_id for r in result.results] == [f"q1.{i}.bank-01" for i in range(250)]
    statuses = [r.status for r in result.results]
    assert statuses[:3] == ["found", "not_found", "refused"] and statuses.count("found") == 84
    assert result.results[0].assets[0].value_fen == 100 and result.results[2].reason == "no basis"
    assert result.inquiry_id == "q1" and {r.institution_id for r in result.results} == {"bank-01"}


async def test_legs_of_several_institutions_in_one_message_are_asked_of_each(settings) -> None:  # type: ignore[no-untyped-def]
    bank = ScriptedBank(lambda call, ids: {i: NotFound() for i in ids})
    result = await ask(settings, bank, batch_of(120, institutions=("bank-01", "bank-02", "bank-03")))
    assert sorted(len(c) for c in bank.calls) == [20, 20, 20, 100, 100, 100]
    assert [(r.leg_id, r.institution_id) for r in result.results] == [
        (f"q1.{i}.{inst}", inst) for inst in ("bank-01", "bank-02", "bank-03") for i in range(120)]


async def test_a_hanging_institution_holds_back_only_its_own_legs(settings) -> None:  # type: ignore[no-untyped-def]
    released = asyncio.Event()

    class HangingBank02(ScriptedBank):
        async def query(self, institution: Institution, batch: LegBatch) -> Mapping[str, Answer]:
            if institution.id == "bank-02":
                await released.wait()  # answers only once the others' results are out
            return await super().query(institution, batch)

    legs = leg_answers(settings, HangingBank02(lambda call, ids: {i: NotFound() for i in ids}))
    answered: list[set[str]] = []
    async with asyncio.timeout(10):  # were the parts held back until all institutions answered, this would hang
        async for part, _last in legs.answers(batch_of(3, institutions=("bank-01", "bank-02", "bank-03"))):
            answered.append({r.institution_id for r in part.results})
            released.set()
    assert answered[-1] == {"bank-02"} and set().union(*answered[:-1]) == {"bank-01", "bank-03"}


@pytest.mark.parametrize("linger_s, expected", [(0.5, [{"bank-01", "bank-02"}, {"bank-03"}]),
                                                (0.0, [{"bank-01"}, {"bank-02"}, {"bank-03"}])])
async def test_answers_that_come_within_the_linger_go_out_together(settings, linger_s, expected) -> None:  # type: ignore[no-untyped-def]
    answer_after = {"bank-01": 0.0, "bank-02": 0.05, "bank-03": 1.5}

    class SlowBanks(ScriptedBank):
        async def query(self, institution: Institution, batch: LegBatch) -> Mapping[str, Answer]:
            await asyncio.sleep(answer_after[institution.id])
            return await super().query(institution, batch)

    settings = dataclasses.replace(settings, result_linger_s=linger_s, call_timeout_s=5.0)
    parts = await parts_of(settings, SlowBanks(lambda call, ids: {i: NotFound() for i in ids}),
                           batch_of(2, institutions=("bank-01", "bank-02", "bank-03")))
    assert [{r.institution_id for r in part.results} for part in parts] == expected


async def test_legs_an_answer_left_out_are_asked_again_and_only_they(settings) -> None:  # type: ignore[no-untyped-def]
    def answers(call: int, ids: list[str]) -> dict[str, Answer]:
        return {i: NotFound() for i in (ids[::2] if call == 1 else ids)}  # the first answer skips every other leg

    bank = ScriptedBank(answers)
    result = await ask(settings, bank, batch_of(10))
    assert bank.calls[1] == [f"q1.{i}.bank-01" for i in range(1, 10, 2)]
    assert {r.status for r in result.results} == {"not_found"} and {r.attempts for r in result.results} == {2}


async def test_legs_still_unanswered_after_the_last_attempt_fail_with_the_reason(settings) -> None:  # type: ignore[no-untyped-def]
    bank = ScriptedBank(lambda call, ids: {ids[0]: NotFound()} if call == 1 else {})
    result = await ask(settings, bank, batch_of(3))
    assert len(bank.calls) == settings.call_attempts
    assert [r.status for r in result.results] == ["not_found", "failed", "failed"]
    assert "left 2 of 2 legs out of its answer" in (result.results[1].reason or "")


async def test_a_permanent_error_fails_every_leg_of_the_chunk_and_no_other(settings) -> None:  # type: ignore[no-untyped-def]
    def answers(call: int, ids: list[str]) -> dict[str, Answer]:
        if ids[0] == "q1.100.bank-01":
            raise Permanent("bank-01 answered HTTP 400: bad subject")
        return {i: NotFound() for i in ids}

    result = await ask(settings, ScriptedBank(answers), batch_of(150))
    statuses = [r.status for r in result.results]
    assert statuses[:100] == ["not_found"] * 100 and statuses[100:] == ["failed"] * 50
    assert result.results[120].reason == "bank-01 answered HTTP 400: bad subject"


async def test_retryable_errors_are_retried_then_succeed(settings) -> None:  # type: ignore[no-untyped-def]
    def answers(call: int, ids: list[str]) -> dict[str, Answer]:
        if call == 1:
            raise Retryable("bank-01 answered HTTP 503")
        return {i: NotFound() for i in ids}

    bank = ScriptedBank(answers)
    result = await ask(settings, bank, batch_of(5))
    assert len(bank.calls) == 2 and {r.status for r in result.results} == {"not_found"}


async def test_every_retry_waits_at_least_the_institutions_retry_after(settings) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    called_at: list[float] = []

    def answers(call: int, ids: list[str]) -> dict[str, Answer]:
        called_at.append(loop.time())
        if call < settings.call_attempts:
            raise Retryable("bank-01 answered HTTP 429", retry_after=0.2)
        return {i: NotFound() for i in ids}

    result = await ask(settings, ScriptedBank(answers), batch_of(2))
    assert len(called_at) == settings.call_attempts == 3
    assert all(later - earlier >= 0.195 for earlier, later in itertools.pairwise(called_at)), called_at
    assert {(r.status, r.attempts) for r in result.results} == {("not_found", 3)}


async def test_a_batch_past_its_deadline_is_not_sent(settings) -> None:  # type: ignore[no-untyped-def]
    bank = ScriptedBank(lambda call, ids: {i: NotFound() for i in ids})
    result = await ask(settings, bank, batch_of(4, deadline_in=timedelta(seconds=-1)))
    assert bank.calls == [] and {r.status for r in result.results} == {"timed_out"}


def test_reading_a_batch_answer_keeps_our_legs_ignores_others_and_retries_the_unreadable(settings) -> None:  # type: ignore[no-untyped-def]
    from connectors.kinds.common import answers_by_leg

    bank = settings.directory.by_id["bank-01"]
    batch = batch_of(3)
    items = [{"request_id": "q1.0.bank-01"}, {"request_id": "someone-else"}, {"request_id": "q1.2.bank-01"}]
    answers = answers_by_leg(bank, batch, items, "request_id", lambda item, leg: NotFound(leg.debtor.name))
    assert answers == {"q1.0.bank-01": NotFound("张三"), "q1.2.bank-01": NotFound("张三")}  # q1.1 left out: asked again
    for unreadable in (None, [{"no_id": 1}], [["a list"]], {"results": 1}):
        with pytest.raises(Retryable, match="unreadable batch answer"):
            answers_by_leg(bank, batch, unreadable, "request_id", lambda item, leg: NotFound())
