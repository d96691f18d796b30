"""Banks that poll for work: each looks into its inbox on the network's SFTP exchange every
``interval_s`` (its own schedule), answers every request file it finds and uploads the answers, or
a failure receipt for a file it cannot read or whose signature fails (``schemas.file_exchange``).

A file is answered, its changes stored (the journal flushed), the answer uploaded, and only then
removed from the inbox: a bank that stops half-way answers the file again on its next poll, and
since control orders are deduped by order id and queries change nothing, once is all that happens.

Misbehaviour, as the admin API sets it: ``hang`` is a bank that stopped polling (files wait in its
inbox); an injected fault drawn for a file (``error_rate`` and the other rates, outages) makes the
bank send it back with a failure receipt, as a bank whose processing failed does.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from schemas.file_exchange import FEEDBACK, INBOX, OUTBOX, RECEIPT, REQUEST, BadFile, FileName, login_password, pack, unpack
from schemas.sftp_client import ExchangeError, ExchangeLogin
from schemas.signing import PartnerKeys
from simulators.apps import bank_files
from simulators.apps.common import SimContext
from simulators.journal import JournalError

log = structlog.get_logger("simulator")


class PollingBank:
    def __init__(self, ctx: SimContext, bank: str, keys: PartnerKeys, interval_s: float, login: ExchangeLogin | None = None) -> None:
        self.ctx = ctx
        self.bank = bank
        self.keys = keys
        self.interval_s = interval_s
        self.login = login or ExchangeLogin(bank, login_password(keys, bank))

    async def run(self) -> None:
        try:
            while True:
                if not self.ctx.behaviours.get(self.bank).hang:
                    try:
                        await self.poll()
                    except ExchangeError as exc:
                        log.warning("file exchange unreachable; polling again next time", institution=self.bank, error=repr(exc))
                await asyncio.sleep(self.interval_s)
        finally:
            await self.login.aclose()

    async def poll(self) -> int:
        """One look into the inbox: every whole file answered; how many there were."""
        entries = await self.login.names(f"/{INBOX}")
        for entry in entries:
            await self._handle(entry)
        return len(entries)

    async def _handle(self, entry: str) -> None:
        name = FileName.parse(entry)
        if name is None or name.way != REQUEST or name.bank != self.bank:
            log.warning("stray file in the inbox removed", institution=self.bank, file=entry[:200])
            await self.login.remove(f"/{INBOX}/{entry}")
            return
        raw = await self.login.read(f"/{INBOX}/{entry}")
        try:
            reply, document = name.reply(FEEDBACK), self._answers(name, raw)
        except BadFile as exc:
            log.warning("request file sent back", institution=self.bank, file=entry, reason=str(exc))
            reply, document = name.reply(RECEIPT), {"file": entry, "reason": str(exc)}
        except JournalError as exc:  # nothing told, nothing removed: the next poll answers it
            log.error("changes not stored; the file stays in the inbox", institution=self.bank, file=entry, error=str(exc))
            return
        await self.login.write(f"/{OUTBOX}/{reply}", pack(self.keys, reply, document))
        await self.login.remove(f"/{INBOX}/{entry}")

    def _answers(self, name: FileName, raw: bytes) -> list[dict[str, object]]:
        requests = unpack(self.keys, name, raw, time.time())
        if not isinstance(requests, list):
            raise BadFile("requests.json is not a list of requests")
        fault = self.ctx.behaviours.draw(self.bank)  # decided before any work: a failed file changes nothing
        if fault is not None:
            raise BadFile(f"processing failed ({fault})")
        answers = [bank_files.answer(self.ctx, self.bank, request) for request in requests]
        self.ctx.ledgers.journal.flush()
        return answers
