"""``assetgw inquire``: a bulk inquiry that survives the gateway restarting under it.

The batch is submitted with an ``Idempotency-Key``, so a POST whose answer was lost is sent again
without creating a second batch; its id is printed the moment it is known, and then followed (and
can be followed again later with ``--batch ID``). Every call is retried through connection
failures with backoff for up to ``--retry-for`` seconds; past that the command ends with one line
saying what to do, never a traceback, and writes whatever reports it has."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_delay, wait_exponential

CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
POLL_S = 0.5
T = TypeVar("T")


class GatewayDown(Exception):
    """A status a proxy or a restarting gateway answers with: try again."""


class Stop(Exception):
    """The command ends here: the message is its last line, ``code`` its exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


RETRIED = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError, GatewayDown)


class Gateway:
    """The API as this command uses it: every call retried through connection failures."""

    def __init__(self, http: aiohttp.ClientSession, api: str, retry_for: float, console: Console) -> None:
        self.http, self.api, self.retry_for, self.console = http, api, retry_for, console
        self._down_since: float | None = None

    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(retry=retry_if_exception_type(RETRIED), wait=wait_exponential(multiplier=0.25, max=5),
                                 stop=stop_after_delay(self.retry_for), before_sleep=self._lost, reraise=True)
        try:
            result = await retrying(attempt)
        except RETRIED as exc:
            raise Stop(f"cannot reach the gateway at {self.api} ({_reason(exc)}) for {self.retry_for:.0f}s; "
                       "is it running, and is --api (or ASSETGW_API) right?") from None
        if self._down_since is not None:
            self.console.print(f"the gateway answers again (after {time.monotonic() - self._down_since:.1f}s)")
            self._down_since = None
        return result

    def _lost(self, state: RetryCallState) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            exc = state.outcome.exception() if state.outcome else None
            self.console.print(f"[yellow]the gateway does not answer ({_reason(exc)}); retrying for up to {self.retry_for:.0f}s …", soft_wrap=True)

    async def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async def attempt() -> tuple[int, Any]:
            async with self.http.request(method, path, **kwargs) as r:
                body = await r.read()
                if r.status in (502, 503, 504):
                    raise GatewayDown(f"HTTP {r.status}")
                try:
                    return r.status, orjson.loads(body) if body else {}
                except orjson.JSONDecodeError:
                    raise Stop(f"{self.api} answered {r.status} with something other than JSON; is --api the gateway?") from None

        return await self.call(attempt)


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


async def inquire(api: str, token: str | None, source: Path | None, fmt: str, out: Path, timeout: float,
                  batch_id: str | None = None, retry_for: float = 120.0) -> int:
    console = Console(stderr=True)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession(api, headers=headers, timeout=aiohttp.ClientTimeout(sock_connect=5, sock_read=60)) as http:
            gateway = Gateway(http, api, retry_for, console)
            try:
                if batch_id is None:
                    batch_id = await _submit(gateway, source, fmt, console)
                    console.print(f"(if this command is stopped, the batch goes on: assetgw inquire --batch {batch_id} --out {out})")
                progress = await _follow(gateway, batch_id, timeout, console)
                count = await _download(gateway, batch_id, out)
            except Stop as stop:
                if batch_id is not None:
                    stop.args = (f"{stop}; batch {batch_id} goes on: assetgw inquire --batch {batch_id} --out {out}",)
                raise
    except Stop as stop:
        console.print(f"[red]assetgw inquire: {stop}", soft_wrap=True)
        return stop.code
    if progress["status"] != "completed":
        console.print(f"[red]gave up waiting after {timeout:.0f}s ({progress['legs']['done']}/{progress['legs']['total']} legs); "
                      f"wrote the {count} reports as they stand to {out}; the batch goes on: assetgw inquire --batch {batch_id} --out {out}")
        return 1
    console.print(f"wrote {count} reports to {out} in {time.monotonic() - started:.1f}s")
    return 0


async def _submit(gateway: Gateway, source: Path | None, fmt: str, console: Console) -> str:
    if source is None or not source.is_file():
        raise Stop(f"no such file: {source}", 2)
    # One key for every attempt: a POST whose answer was lost, sent again, finds its first batch.
    headers = {"Content-Type": CONTENT_TYPES[fmt], "Idempotency-Key": uuid.uuid4().hex}
    status, body = await gateway.json("POST", "/v1/inquiry-batches", data=source.read_bytes(), headers=headers)
    if status not in (200, 202):
        lines = [f"the gateway refused the batch ({status}): {body.get('message')}"]
        for err in body.get("errors", [])[:20]:
            line = f"line {err['line']}: " if err.get("line") is not None else ""
            lines.append(f"  {line}{err['field']}: {err['message']}")
        raise Stop("\n".join(lines))
    again = " (sent again: the gateway had it already)" if body.get("replayed") else ""
    console.print(f"batch {body['id']}{again}: {body['debtors']} debtors in {body['inquiries']} inquiries, {body['legs']} legs")
    return str(body["id"])


async def _follow(gateway: Gateway, batch_id: str, timeout: float, console: Console) -> dict[str, Any]:
    """Polls the batch's progress until it completes or ``timeout`` runs out; returns the last."""
    deadline = time.monotonic() + timeout
    with Progress(TextColumn("legs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("legs", total=None)
        while True:
            status, progress = await gateway.json("GET", f"/v1/inquiry-batches/{batch_id}")
            if status != 200:
                raise Stop(f"batch {batch_id}: {progress.get('message', status)}")
            bar.update(task, total=progress["legs"]["total"], completed=progress["legs"]["done"])
            if progress["status"] == "completed" or time.monotonic() > deadline:
                return progress
            await asyncio.sleep(POLL_S)


async def _download(gateway: Gateway, batch_id: str, out: Path) -> int:
    """The reports, one JSON line per debtor, streamed to ``out``; a download cut short is started
    again. If the gateway stays away, ``out`` keeps the whole lines received."""
    count = 0

    async def attempt() -> int:
        nonlocal count
        count = 0
        async with gateway.http.get(f"/v1/inquiry-batches/{batch_id}/reports") as r:
            if r.status in (502, 503, 504):
                raise GatewayDown(f"HTTP {r.status}")
            if r.status != 200:
                raise Stop(f"reports of batch {batch_id}: HTTP {r.status}")
            with out.open("wb") as f:
                async for line in r.content:
                    if line.endswith(b"\n") and line.strip():  # a line cut by a broken connection is left out
                        f.write(line)
                        count += 1
        return count

    try:
        return await gateway.call(attempt)
    except Stop as stop:
        if count:
            stop.args = (f"{stop}; {out} holds the {count} reports received before that (not all)",)
        raise
