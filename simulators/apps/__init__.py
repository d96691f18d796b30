"""One aiohttp app per institution kind; each hosts every institution of its kind."""

from __future__ import annotations

from types import ModuleType

from aiohttp import web

from schemas.signing import NonceCache, PartnerKeys
from simulators import admin, admin_events, admin_ledgers, partner_link
from simulators.apps import (
    airline,
    bank,
    control_status,
    controls,
    court,
    equity,
    event_feed,
    fund,
    land,
    lodging,
    payment,
    railway,
    recorded,
    securities,
    vehicle,
)
from simulators.apps.common import CONTEXT, SimContext, refuse_calls_to_polling_banks
from simulators.behaviour import Behaviours
from simulators.ledger_book import LedgerBook
from simulators.population import Population

APIS: dict[str, ModuleType] = {"bank": bank, "land": land, "vehicle": vehicle, "payment": payment, "lodging": lodging,
                               "fund": fund, "equity": equity, "court": court,
                               "airline": airline, "railway": railway,
                               "securities": securities}
# The payment app takes control orders through its gateway method instead of /controls, the fund
# centres through their exchange envelope (and refuse them all), the courts by assistance letter, the
# depository as business messages.
CONTROLS_ROUTE = {"bank", "land", "vehicle", "equity"}
# Kinds holding assets under control, whose status the network may reconcile (the payment app
# serves it both as /controls/status and as its gateway method).
STATUS_ROUTE = {"bank", "land", "vehicle", "payment", "equity", "court", "securities"}


def build_app(
    kind: str, population: Population, behaviours: Behaviours, ledgers: LedgerBook | None = None,
    partner_keys: PartnerKeys | None = None, nonces: NonceCache | None = None,
) -> web.Application:
    """``ledgers`` should be shared by all apps of a process (``serve`` does); a lone app gets
    its own book and clock. With ``partner_keys`` every institution request must be signed
    (``simulators.partner_link``, with the process's ``nonces`` if given); without, none is checked.
    Every answer leaves only once the changes behind it are stored (``apps.recorded``)."""
    if kind not in APIS:
        raise ValueError(f"unknown institution kind {kind!r}; expected one of {', '.join(APIS)}")
    ledgers = ledgers if ledgers is not None else LedgerBook(population)
    # Outermost: it must also cover the nonce the partner link adds before any handler runs.
    app = web.Application(middlewares=[recorded.middleware(ledgers.journal)])
    institutions = {i.id: i for i in population.directory.of_kind(kind)}
    app[CONTEXT] = SimContext(kind=kind, population=population, behaviours=behaviours, institutions=institutions, ledgers=ledgers)
    partner_link.install(app, partner_keys, nonces)
    app.middlewares.append(refuse_calls_to_polling_banks)  # after the guard: an unsigned caller learns nothing
    admin.add_routes(app)
    admin_ledgers.add_routes(app)
    admin_events.add_routes(app)
    APIS[kind].add_routes(app)
    event_feed.add_routes(app)
    if kind in STATUS_ROUTE:
        control_status.add_routes(app)
    if kind in CONTROLS_ROUTE:
        controls.add_routes(app)
    return app
