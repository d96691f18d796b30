"""Run the institution simulators: one HTTP server per kind, until cancelled."""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from schemas import ports
from schemas.directory import polling_interval_s
from schemas.signing import NonceCache, PartnerKeys
from simulators.activity import Activity
from simulators.apps import build_app
from simulators.apps.common import CONTEXT, SimContext
from simulators.behaviour import Behaviours
from simulators.ledger_book import LedgerBook
from simulators.openapi import install as install_openapi
from simulators.polling import PollingBank
from simulators.population import Population

log = structlog.get_logger("simulator")

DEFAULT_PORTS: dict[str, int] = ports.SIMULATORS


async def serve(
    kinds: list[str],
    host: str,
    ports: dict[str, int],
    population: Population,
    behaviours: Behaviours,
    ready: asyncio.Event | None = None,
    ledgers: LedgerBook | None = None,
    partner_keys: PartnerKeys | None = None,
    activity_per_s: float = 0.0,
    nonces: NonceCache | None = None,
) -> None:
    """Serve ``kinds`` on ``host`` at ``ports[kind]`` and set ``ready`` once all listen.

    A kind missing from ``ports`` gets its ``DEFAULT_PORTS`` entry; a port of 0 binds a free
    port. The bound port is written back into ``ports`` before ``ready`` is set (tests use
    this). Runs until cancelled, then closes every server.

    All kinds share one ``LedgerBook`` (made here unless given), hence one simulated clock:
    advancing time through any app's admin API moves every institution's freezes along.

    ``partner_keys`` turns on verification of signed partner requests (``schemas.signing``), with
    ``nonces`` as the process's nonce cache if given (a stored one: ``simulators.store``).
    ``activity_per_s`` > 0 runs background activity (``simulators.activity``) on the served kinds.
    """
    ledgers = ledgers if ledgers is not None else LedgerBook(population)
    runners: list[web.AppRunner] = []
    activity: asyncio.Task[None] | None = None
    pollers: list[asyncio.Task[None]] = []
    try:
        for kind in kinds:
            # handler_cancellation: a client that gives up ends its request, so a hanging
            # institution does not pile up handlers; short shutdown: hangs must not stall exit.
            app = build_app(kind, population, behaviours, ledgers, partner_keys, nonces)
            install_openapi(app, kind)
            runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, host, ports.get(kind, DEFAULT_PORTS[kind]))
            await site.start()
            ports[kind] = runner.addresses[0][1]
            pollers.extend(start_polling(app[CONTEXT], partner_keys))
        if activity_per_s > 0:
            served = [i for i in population.directory.institutions if i.kind in kinds]
            activity = asyncio.create_task(Activity(ledgers, served, population.seed).run(activity_per_s))
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        for task in (*pollers, *([activity] if activity else [])):
            task.cancel()
        await asyncio.gather(*pollers, *([activity] if activity else []), return_exceptions=True)
        for runner in reversed(runners):
            await runner.cleanup()


def start_polling(ctx: SimContext, partner_keys: PartnerKeys | None) -> list[asyncio.Task[None]]:
    """The app's banks that poll the file exchange, each on its own schedule. Their logins and
    file signatures need the partner keys: without, they do not poll (and their legs time out)."""
    banks = [i.id for i in ctx.institutions.values() if i.polls]
    if not banks:
        return []
    if partner_keys is None:
        log.warning("polling banks NOT polling: the file exchange needs the partner keys", institutions=banks)
        return []
    interval_s = polling_interval_s()
    log.info("banks polling the file exchange", institutions=banks, interval_s=interval_s)
    return [asyncio.create_task(PollingBank(ctx, bank, partner_keys, interval_s).run()) for bank in banks]
