"""Lodging registry (旅馆业治安管理信息系统 of a provincial public-security department): it holds no
assets and answers no asset queries; hotels register every guest with it, and it reports the
check-ins of listed judgment debtors on its event feed (``guest_checked_in``), as Guangdong's
police have done for courts since 2016. Its partner API is the feed alone (``event_feed``, added
to every app); check-ins happen through the background activity or the admin trigger
``POST /admin/institutions/{inst}/check-ins`` (``simulators.admin_events``).
"""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Nothing beyond what every app has: no query, no controls."""
