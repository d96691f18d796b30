"""The officer commands' way to the gateway: one call, and every way it can fail as one line that
says what to do — an officer at a terminal should never meet a traceback."""

from __future__ import annotations

import asyncio
import base64
import sys
from collections.abc import Awaitable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from assetgw.terminal import plain

TIMEOUT_S = 60


class GatewayError(Exception):
    """What went wrong, in one line, and the exit code: 1 refused by the gateway, 2 not asked."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def path_part(text: str) -> str:
    """A case number or id inside a URL path: (2025)冀0108执4502号 has brackets and CJK."""
    return quote(text, safe="")


def token_claims(token: str | None) -> dict[str, Any]:
    """The token's claims as the gateway will read them (officer, court, credentials), unchecked:
    the gateway checks the signature; the commands only take defaults from it."""
    try:
        payload = (token or "").split(".")[1]
        return orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


class Gateway:
    def __init__(self, api: str, token: str | None) -> None:
        if not token:
            raise GatewayError("no token: set ASSETGW_TOKEN or pass --token (issue one with `assetgw token …`)", 2)
        self.api = api.rstrip("/")
        self.token = token
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Gateway:
        self._http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"},
                                           timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()

    async def call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                   params: Mapping[str, str] | None = None) -> Any:
        """The answer's JSON for a 2xx; else ``GatewayError`` with the gateway's own reason."""
        assert self._http is not None, "use Gateway in `async with`"
        try:
            async with self._http.request(method, self.api + path, json=body, params=params) as r:
                raw = await r.read()
                status = r.status
        except (aiohttp.ClientConnectionError, aiohttp.InvalidURL, TimeoutError, OSError) as exc:
            raise GatewayError(f"cannot reach the gateway at {self.api} ({_why(exc)}): is the stack running? "
                               "start it with `assetgw up`, or give its address with --api or ASSETGW_API", 2) from None
        try:
            answer = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise GatewayError(f"{method} {path}: the answer ({status}) is not the gateway's JSON; is --api the gateway?", 2) from None
        if 200 <= status < 300:
            return answer
        message = answer.get("message", f"HTTP {status}") if isinstance(answer, dict) else f"HTTP {status}"
        if status == 401:
            raise GatewayError(f"the gateway refused the token ({message}); issue a new one with `assetgw token …`")
        raise GatewayError(f"refused ({status}): {message}")


def _why(exc: Exception) -> str:
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, TimeoutError):
        return f"no answer within {TIMEOUT_S}s"
    return getattr(cause, "strerror", None) or str(cause) or type(cause).__name__


def run(command: str, work: Awaitable[int]) -> int:
    """Runs a command's coroutine; a ``GatewayError`` becomes one line on stderr and its exit code."""
    try:
        return asyncio.run(work)  # type: ignore[arg-type]
    except GatewayError as exc:
        print(f"assetgw {command}: {plain(exc)}", file=sys.stderr)  # the gateway's words, escape sequences shown
        return exc.code
    except KeyboardInterrupt:
        print(f"assetgw {command}: interrupted", file=sys.stderr)
        return 130
