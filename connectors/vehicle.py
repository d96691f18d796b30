"""Vehicle offices: a batch API. Legs arriving within a short window are sent as one batch per
legal basis (court, notice, credentials), up to the office's batch limit; each leg still gets its
own answer, and a failed batch fails each of its legs so the worker retries them one by one."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import ClassVar

from pydantic import ValidationError

from connectors.base import Answer, Found, NotFound, Permanent, Refused, Retryable
from connectors.http_errors import check_status, refusal_reason, require_dict
from connectors.control import post_control
from connectors.transport import Transport
from schemas.assets import Vehicle
from schemas.directory import Institution
from schemas.messages import LegRequest, new_id
from schemas.orders import OrderRequest

MAX_BATCH = 100
WINDOW_S = 0.02

_Pending = tuple[LegRequest, "asyncio.Future[Answer]"]


class VehicleOfficeConnector:
    kind: ClassVar[str] = "vehicle"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._queues: dict[str, asyncio.Queue[_Pending]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def query(self, institution: Institution, leg: LegRequest) -> Answer:
        queue = self._queues.get(institution.id)
        if queue is None:
            queue = self._queues[institution.id] = asyncio.Queue()
            self._tasks.append(asyncio.create_task(self._batch_loop(institution, queue)))
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        await queue.put((leg, future))
        return await future

    async def _batch_loop(self, institution: Institution, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            pending = [await queue.get()]
            deadline = asyncio.get_running_loop().time() + WINDOW_S
            while len(pending) < MAX_BATCH:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    pending.append(await asyncio.wait_for(queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            groups: dict[tuple, list[_Pending]] = defaultdict(list)
            for leg, future in pending:
                if not future.done():  # the worker may have given up on it (deadline)
                    groups[(leg.court, leg.notice_number, tuple(leg.officer_credentials))].append((leg, future))
            for items in groups.values():  # sent concurrently: a slow batch does not hold up the next
                task = asyncio.create_task(self._send_batch(institution, items))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def _send_batch(self, institution: Institution, items: list[_Pending]) -> None:
        first = items[0][0]
        body = {
            "batch_id": new_id(),
            "court": first.court,
            "notice_number": first.notice_number,
            "officer_credentials": first.officer_credentials,
            "items": [
                {"item_id": leg.leg_id, "case_number": leg.case_number, "id_number": leg.debtor.id_number, "name": leg.debtor.name}
                for leg, _ in items
            ],
        }
        try:
            answers = await self._post(institution, body)
        except Exception as exc:  # noqa: BLE001 - every leg of the batch gets the same error
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        for leg, future in items:
            if future.done():
                continue
            answer = answers.get(leg.leg_id)
            if answer is None:
                future.set_exception(Retryable(f"{institution.id} left item {leg.leg_id} out of its batch answer"))
            else:
                future.set_result(answer)

    async def _post(self, institution: Institution, body: dict) -> dict[str, Answer]:
        reply = await self.transport.send("POST", f"/{institution.id}/batch-queries", body)
        check_status(reply, institution.id)
        if reply.status == 403:
            reason = refusal_reason(reply)
            return {item["item_id"]: Refused(reason) for item in body["items"]}
        data = require_dict(reply, institution.id)
        try:
            return {item["item_id"]: self._answer(institution, item) for item in data["items"]}
        except (KeyError, TypeError, ValidationError) as exc:
            raise Retryable(f"{institution.id} sent an unreadable batch answer: {exc!r}"[:300]) from None

    @staticmethod
    def _answer(institution: Institution, item: dict) -> Answer:
        status = item["status"]
        if status == "refused":
            return Refused(str(item.get("reason") or "refused by the vehicle office"))
        if status == "not_found":
            return NotFound("no registered vehicle")
        if status != "found":
            raise Permanent(f"{institution.id} reported unknown item status {status!r}")
        return Found([
            Vehicle(
                institution_id=institution.id,
                plate=v["plate"], vin=v["vin"], model=v["model"],
                registered_on=v["registered_on"], value_fen=v["value_fen"],
            )
            for v in item["vehicles"]
        ])

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        return await post_control(self.transport, institution, order)

    async def aclose(self) -> None:
        tasks = [*self._tasks, *self._sending]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.transport.aclose()
