"""One aiohttp app per institution kind; each hosts every institution of its kind."""

from __future__ import annotations

from types import ModuleType

from aiohttp import web

from simulators import admin
from simulators.apps import bank, land, payment, vehicle
from simulators.apps.common import CONTEXT, SimContext
from simulators.behaviour import Behaviours
from simulators.population import Population

APIS: dict[str, ModuleType] = {"bank": bank, "land": land, "vehicle": vehicle, "payment": payment}


def build_app(kind: str, population: Population, behaviours: Behaviours) -> web.Application:
    if kind not in APIS:
        raise ValueError(f"unknown institution kind {kind!r}; expected one of {', '.join(APIS)}")
    app = web.Application()
    institutions = {i.id: i for i in population.directory.of_kind(kind)}
    app[CONTEXT] = SimContext(kind=kind, population=population, behaviours=behaviours, institutions=institutions)
    admin.add_routes(app)
    APIS[kind].add_routes(app)
    return app
