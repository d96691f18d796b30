"""How a connector worker handles an order its institution defers (the securities depository outside
its working hours): the sender's result says when to submit it again, never past the order's
deadline; ``Resubmissions`` submits it again then, as often as the institution defers it, publishes
every result, holds each order once, and lets go of everything when the worker stops. The
connector is a scripted plug-in at the ``Connector`` seam; tests/test_securities.py runs the real
depository through the real chain."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from connectors.runtime.calls import InstitutionCalls
from connectors.runtime.orders import OrderSender, Resubmissions
from infra.settings import Settings
from schemas.directory import Institution
from schemas.messages import utcnow
from schemas.orders import DEFERRED, AssetRef, OrderRequest, OrderResult

DEPOSITORY = Institution(id="securities-01", kind="securities", name="中国证券登记结算有限责任公司")


class ScriptedDepository:
    """Defers the first ``deferrals`` submissions by ``delay_s`` each, then applies the order."""

    kind: ClassVar[str] = "securities"
    max_batch: ClassVar[int] = 500

    def __init__(self, deferrals: int, delay_s: float) -> None:
        self.deferrals, self.delay_s = deferrals, delay_s
        self.submitted: list[float] = []

    async def control(self, institution: Institution, order: OrderRequest) -> dict[str, Any]:
        self.submitted.append(asyncio.get_running_loop().time())
        if len(self.submitted) <= self.deferrals:
            return {"order_id": order.order_id, "status": DEFERRED, "resubmit_in_s": self.delay_s, "reason": "非工作时间"}
        return {"order_id": order.order_id, "status": "applied", "freeze_id": order.order_id, "held_fen": 300,
                "held_quantity": 3, "duplicate": False}

    async def aclose(self) -> None:
        pass


def order(deadline_in: timedelta = timedelta(hours=1)) -> OrderRequest:
    now = utcnow()
    return OrderRequest(order_id="o1", type="freeze", court="石家庄市裕华区人民法院", case_number="(2025)冀0108执1号",
                        institution_id=DEPOSITORY.id, institution_kind="securities", asset=AssetRef(kind="securities", id="A1:600000"),
                        debtor_id_number="11010519491231002X", quantity=3, term_days=30, ruling_number="r", notice_number="n",
                        officer_credentials=["ZF00000000"], served_at=now, deadline=now + deadline_in)


@pytest.fixture
def sender() -> OrderSender:
    settings = dataclasses.replace(Settings.from_env(), call_attempts=1, call_timeout_s=2.0)
    return OrderSender(ScriptedDepository(deferrals=2, delay_s=0.2), InstitutionCalls(settings))


async def test_a_deferred_order_is_submitted_again_when_due_until_its_institution_takes_it(sender: OrderSender) -> None:
    published: list[OrderResult] = []
    answered = asyncio.Event()

    async def publish(result: OrderResult) -> None:
        published.append(result)
        if result.status != DEFERRED:
            answered.set()

    first = await sender.control(order(), DEPOSITORY)
    assert first.status == DEFERRED and first.resubmit_at is not None and first.reason == "非工作时间"
    resubmissions = Resubmissions(sender, publish)
    resubmissions.add(order(), DEPOSITORY, first.resubmit_at)
    resubmissions.add(order(), DEPOSITORY, first.resubmit_at)  # a redelivered order is held once
    assert len(resubmissions) == 1
    async with asyncio.timeout(5):
        await answered.wait()
    await resubmissions.aclose()
    assert [r.status for r in published] == [DEFERRED, "applied"]
    assert published[-1].held_quantity == 3 and published[-1].held_fen == 300
    depository: ScriptedDepository = sender.connector  # type: ignore[assignment]
    gaps = [b - a for a, b in zip(depository.submitted, depository.submitted[1:], strict=False)]
    assert len(gaps) == 2 and all(gap >= 0.19 for gap in gaps), gaps  # each waited the time the institution gave


async def test_a_deferral_past_the_orders_deadline_fails_the_order(sender: OrderSender) -> None:
    result = await sender.control(order(deadline_in=timedelta(seconds=0.1)), DEPOSITORY)
    assert result.status == "failed" and "deadline" in (result.reason or ""), result


async def test_a_stopping_worker_lets_go_of_the_orders_it_holds(sender: OrderSender) -> None:
    async def publish(result: OrderResult) -> None:
        raise AssertionError("nothing is submitted once stopped")

    resubmissions = Resubmissions(sender, publish)
    resubmissions.add(order(), DEPOSITORY, utcnow() + timedelta(hours=1))
    await resubmissions.aclose()
    assert len(resubmissions) == 0
