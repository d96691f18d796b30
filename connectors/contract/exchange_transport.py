"""The transport for banks that poll for work: the partner link's requests as zipped, signed batch
files in the bank's inbox on the network's SFTP exchange, their answers collected from its outbox
(``schemas.file_exchange``). The connector above it does not know: a request still goes in and
its reply (status and JSON body, as the bank's API would give) comes out, only later.

- Requests sent within ``linger_s`` of each other to one bank, of one subject, share a file.
- A request's id is its content's hash, so the same request again (a retry, a message redelivered
  after a restart) is answered by whichever answer comes first; an answer nobody waits for any
  more is kept a while (``early``) for the request that will come again, and used once.
- A failure receipt ends every request of the file it names with 422 and the bank's reason (the
  connector reports it as a permanent failure); an answer file whose signature fails is dropped
  (its requests are asked again on the next attempt).
- The exchange unreachable is a ``ConnectionError``, which the worker retries like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, OrderedDict, defaultdict
from typing import Any

import structlog

from connectors.contract.transport import Reply
from schemas.file_exchange import (
    FEEDBACK,
    INBOX,
    OUTBOX,
    RECEIPT,
    REQUEST,
    BadFile,
    FileName,
    pack,
    request_id,
    subject_of,
    unpack,
)
from schemas.messages import new_id
from schemas.sftp_client import ExchangeError, ExchangeLogin
from schemas.signing import PartnerKeys

log = structlog.get_logger("connector")

MAX_EARLY = 10_000  # answers kept for a request that may come again
RECEIPT_STATUS = 422


class FileExchangeTransport:
    def __init__(self, keys: PartnerKeys, login: ExchangeLogin, collect_every_s: float = 1.0, linger_s: float = 0.05) -> None:
        self.keys = keys
        self.login = login
        self.collect_every_s = collect_every_s
        self.linger_s = linger_s
        self._waiting: dict[str, asyncio.Future[Reply]] = {}
        self._waiters: Counter[str] = Counter()
        self._bank_of: dict[str, str] = {}  # request id -> bank, while someone waits
        self._early: OrderedDict[str, Reply] = OrderedDict()
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._files: dict[str, list[str]] = {}  # batch of a request file written -> its request ids, for a receipt
        self._tasks: set[asyncio.Task[None]] = set()
        self._collector: asyncio.Task[None] | None = None
        self._work = asyncio.Event()

    async def send(self, method: str, path: str, json: Any | None = None) -> Reply:
        bank = path.split("/")[1]
        rid = request_id(method, path, json)
        if (early := self._early.pop(rid, None)) is not None:
            return early
        future = self._waiting.get(rid)
        if future is None:
            future = self._waiting[rid] = asyncio.get_running_loop().create_future()
            self._bank_of[rid] = bank
            self._enqueue(bank, subject_of(path), {"request_id": rid, "method": method, "path": path, "body": json})
        self._waiters[rid] += 1
        self._start_collecting()
        try:
            return await asyncio.shield(future)
        finally:
            self._waiters[rid] -= 1
            if self._waiters[rid] <= 0:  # answered, or everyone gave up: a late answer goes to ``early``
                del self._waiters[rid]
                if self._waiting.get(rid) is future:
                    del self._waiting[rid]
                    self._bank_of.pop(rid, None)

    def _enqueue(self, bank: str, subject: str, request: dict[str, Any]) -> None:
        queue = self._pending[(bank, subject)]
        queue.append(request)
        if len(queue) == 1:  # the first of a file: write it once the others sent meanwhile are in
            self._spawn(self._write_later(bank, subject))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_later(self, bank: str, subject: str) -> None:
        await asyncio.sleep(self.linger_s)
        requests = self._pending.pop((bank, subject), [])
        if not requests:
            return
        name = FileName.new(subject, REQUEST, bank, new_id())
        try:
            await self.login.write(f"/{bank}/{INBOX}/{name}", pack(self.keys, name, requests))
        except ExchangeError as exc:
            self._fail([r["request_id"] for r in requests], ConnectionError(f"file exchange: cannot write to {bank}'s inbox: {exc!r}"))
            return
        self._files[name.batch] = [r["request_id"] for r in requests]
        log.debug("request file written", institution=bank, file=str(name), requests=len(requests))

    def _fail(self, rids: list[str], error: Exception) -> None:
        for rid in rids:
            future = self._waiting.get(rid)
            if future is not None and not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: nobody may be left to await it

    def _deliver(self, rid: str, reply: Reply, keep: bool = True) -> None:
        """To whoever waits for ``rid``; with ``keep``, kept for the next to ask if nobody does."""
        future = self._waiting.get(rid)
        if future is not None and not future.done():
            future.set_result(reply)
        elif future is None and keep:
            self._early[rid] = reply
            while len(self._early) > MAX_EARLY:
                self._early.popitem(last=False)

    def _start_collecting(self) -> None:
        self._work.set()
        if self._collector is None or self._collector.done():
            self._collector = asyncio.create_task(self._collect_forever())

    async def _collect_forever(self) -> None:
        while True:
            await self._work.wait()
            banks = set(self._bank_of.values())
            if not banks:
                self._work.clear()
                continue
            await asyncio.gather(*(self._collect_or_warn(bank) for bank in sorted(banks)))  # one connection, many requests
            await asyncio.sleep(self.collect_every_s)

    async def _collect_or_warn(self, bank: str) -> None:
        try:
            await self._collect(bank)
        except ExchangeError as exc:
            log.warning("file exchange unreachable; collecting again shortly", institution=bank, error=repr(exc))

    async def _collect(self, bank: str) -> None:
        """Read the bank's outbox: answers to whoever waits, receipts to the requests of their file.
        A file is removed once read, so an answer is collected once (and if twice, the second
        finds its request answered already)."""
        folder = f"/{bank}/{OUTBOX}"
        for entry in await self.login.names(folder):
            name = FileName.parse(entry)
            if name is None or name.bank != bank or name.way not in (FEEDBACK, RECEIPT):
                continue
            raw = await self.login.read(f"{folder}/{entry}")
            try:
                document = unpack(self.keys, name, raw, time.time())
                self._take(bank, name, document)
            except (BadFile, TypeError, KeyError, AttributeError) as exc:
                log.warning("unusable file from a bank dropped; its requests will be asked again", institution=bank,
                            file=entry, error=str(exc)[:300])
            await self.login.remove(f"{folder}/{entry}")

    def _take(self, bank: str, name: FileName, document: Any) -> None:
        rids = self._files.pop(name.batch, [])
        if name.way == FEEDBACK:
            for answer in document:
                self._deliver(str(answer["request_id"]), Reply(int(answer["status"]), {}, answer.get("body")))
            return
        reason = f"{bank} sent back file {document.get('file')}: {document.get('reason')}"
        log.warning("failure receipt from a bank", institution=bank, file=str(document.get("file"))[:200],
                    reason=str(document.get("reason"))[:300], requests=len(rids))
        for rid in rids:
            self._deliver(rid, Reply(RECEIPT_STATUS, {}, {"error": "failure_receipt", "reason": reason}), keep=False)

    async def aclose(self) -> None:
        tasks = [*self._tasks, *([self._collector] if self._collector else [])]
        self._collector = None
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.login.aclose()
