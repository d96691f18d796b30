"""The gateway's JSON API as the signed-in officer. Every console page reads, and every form acts,
through one of these calls with the officer's own token, on the socket the page request came in
on: the same routes, role table, court checks, desks and access audit as the command line and any
other client, with no rule of its own to drift."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from gateway.console.sessions import Session

HTTP = web.AppKey("console_http", aiohttp.ClientSession)
TIMEOUT = aiohttp.ClientTimeout(total=120)


class Refused(Exception):
    """The API said no: its status and message (naming the field), shown to the officer as is."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {"message": str(body)}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) or f"HTTP {self.status}"


async def http_client(app: web.Application):  # type: ignore[no-untyped-def]
    """Cleanup context: one client session for the console's calls."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        app[HTTP] = http
        yield


def own_url(request: web.Request) -> str:
    """The gateway itself, at the address this request reached (never the Host header a client sent)."""
    host, port = request.transport.get_extra_info("sockname")[:2]  # type: ignore[union-attr]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class GatewayApi:
    def __init__(self, request: web.Request, session: Session) -> None:
        self.http = request.app[HTTP]
        self.base = own_url(request)
        self.headers = {"Authorization": f"Bearer {session.token}"}

    async def get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        async with self.http.get(self.base + path, params=query, headers=self.headers) as r:
            return await self._answer(r)

    async def post(self, path: str, body: Any = None, *, data: bytes | None = None, content_type: str | None = None) -> Any:
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        async with self.http.post(self.base + path, json=body if data is None else None, data=data, headers=headers) as r:
            return await self._answer(r)

    async def stream(self, path: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        """An open response to read as it comes (server-sent events); the caller closes it."""
        response = await self.http.get(self.base + path, headers={**self.headers, **headers},
                                       timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
        if response.status >= 400:
            body = await response.json(content_type=None)
            response.release()
            raise Refused(response.status, body)
        return response

    @staticmethod
    async def _answer(r: aiohttp.ClientResponse) -> Any:
        body = await r.json(content_type=None) if r.content_type == "application/json" else await r.text()
        if r.status >= 400:
            raise Refused(r.status, body)
        return body
