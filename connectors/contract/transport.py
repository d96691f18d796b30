"""One narrow transport interface that the real HTTP client and test doubles share (after httpx):
send a JSON request, get a status, headers and a decoded JSON body back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson
from yarl import URL

from schemas.signing import PartnerKeys, sign_headers


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any  # decoded JSON, or None when the body was not JSON


class Transport(Protocol):
    async def send(self, method: str, path: str, json: Any | None = None) -> Reply: ...

    async def aclose(self) -> None: ...


class HttpTransport:
    """aiohttp against one base URL. Connection errors surface as ``aiohttp.ClientError``.

    With partner keys, every request is signed for the institution named by the path's first
    segment (``/{institution_id}/...``), as schemas/signing.py specifies."""

    def __init__(self, base_url: str, *, keys: PartnerKeys | None = None, connections: int = 256) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, ttl_dns_cache=300),
            json_serialize=lambda o: orjson.dumps(o).decode(),
        )

    async def send(self, method: str, path: str, json: Any | None = None) -> Reply:
        data = None if json is None else orjson.dumps(json)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        url = URL(self.base_url + path)
        if self.keys is not None:  # the exact path and query on the request line, base prefix included
            headers.update(sign_headers(self.keys, path.split("/")[1], method, url.raw_path_qs, data or b""))
        async with self._session.request(method, url, data=data, headers=headers) as resp:
            raw = await resp.read()
            try:
                body = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                body = None
            return Reply(resp.status, resp.headers, body)

    async def aclose(self) -> None:
        await self._session.close()


class RoutedTransport:
    """Each institution's requests to its own base URL where it has one, else the kind's: one bank
    can be a partner's own implementation under test while the simulators serve the rest. The
    institution is the path's first segment, as for signing."""

    def __init__(self, default: Transport, own: Mapping[str, Transport]) -> None:
        self.default = default
        self.own = dict(own)

    async def send(self, method: str, path: str, json: Any | None = None) -> Reply:
        return await self.own.get(path.split("/")[1], self.default).send(method, path, json)

    async def aclose(self) -> None:
        for transport in {id(t): t for t in (self.default, *self.own.values())}.values():  # one may serve several
            await transport.aclose()
