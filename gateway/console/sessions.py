"""Console sessions: the officer's token kept server-side behind an opaque cookie (HttpOnly,
SameSite=Strict), and a per-session token every form posts back (cross-site request forgery)."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web

from gateway.http.auth import Officer

COOKIE = "assetgw_console"
CSRF_FIELD = "csrf_token"
SESSION = web.RequestKey("console_session", "Session")
SESSIONS = web.AppKey("console_sessions", "Sessions")
TTL_S = 8 * 3600  # an officer's working day, as long as the tokens `assetgw token` issues


@dataclass(frozen=True)
class Session:
    id: str
    officer: Officer
    token: str
    csrf: str
    expires_at: float

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


@dataclass
class Sessions:
    """In memory: a gateway restart signs everyone out, which is the safe side."""

    ttl_s: float = TTL_S
    by_id: dict[str, Session] = field(default_factory=dict)

    def open(self, officer: Officer, token: str, response: web.StreamResponse) -> Session:
        self._prune()
        session = Session(secrets.token_urlsafe(32), officer, token, secrets.token_urlsafe(32), time.time() + self.ttl_s)
        self.by_id[session.id] = session
        response.set_cookie(COOKIE, session.id, max_age=int(self.ttl_s), path="/", httponly=True, samesite="Strict")
        return session

    def of(self, request: web.Request) -> Session | None:
        session = self.by_id.get(request.cookies.get(COOKIE, ""))
        if session is None or session.expires_at < time.time():
            return None
        return session

    def close(self, request: web.Request, response: web.StreamResponse) -> None:
        self.by_id.pop(request.cookies.get(COOKIE, ""), None)
        response.del_cookie(COOKIE, path="/")

    def _prune(self) -> None:
        now = time.time()
        self.by_id = {k: s for k, s in self.by_id.items() if s.expires_at >= now}
