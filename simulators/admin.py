"""Admin routes on every simulator app: health, ground truth, and behaviour at run time.

``GET /healthz``; ``GET /admin/truth/{id_number}`` (what this app's institutions hold for the
debtor, as ``schemas.assets`` JSON: tests and demos compare gateway answers against it);
``GET|PUT|DELETE /admin/institutions/{inst}/behaviour`` to read, patch or reset misbehaviour
(fields: ``simulators.behaviour.Behaviour``). Ledger and clock routes live in ``admin_ledgers``,
``/admin/security`` in ``partner_link``.
"""

from __future__ import annotations

from aiohttp import web

from simulators.apps.common import context, http_error, json_response, read_json


async def healthz(request: web.Request) -> web.Response:
    ctx = context(request)
    return json_response({"ok": True, "kind": ctx.kind, "institutions": list(ctx.institutions)})


async def truth(request: web.Request) -> web.Response:
    # An unknown debtor is simply someone who holds nothing: 200 with an empty list.
    ctx = context(request)
    id_number = request.match_info["id_number"]
    assets = [a for a in ctx.population.assets_of(id_number) if a.institution_id in ctx.institutions]
    return json_response({"id_number": id_number, "assets": [a.model_dump(mode="json") for a in assets]})


def _inst(request: web.Request) -> str:
    ctx = context(request)
    inst = request.match_info["inst"]
    if inst not in ctx.institutions:
        raise http_error(web.HTTPNotFound, "unknown_institution", f"no {ctx.kind} institution {inst!r} here")
    return inst


async def get_behaviour(request: web.Request) -> web.Response:
    inst = _inst(request)
    return json_response(context(request).behaviours.to_json(inst))


async def put_behaviour(request: web.Request) -> web.Response:
    inst = _inst(request)
    try:
        patch = await read_json(request)
        if not isinstance(patch, dict):
            raise ValueError("body must be a JSON object")
        context(request).behaviours.update(inst, patch)
    except ValueError as exc:
        raise http_error(web.HTTPBadRequest, "bad_request", str(exc)) from None
    return json_response(context(request).behaviours.to_json(inst))


async def delete_behaviour(request: web.Request) -> web.Response:
    inst = _inst(request)
    context(request).behaviours.reset(inst)
    return json_response(context(request).behaviours.to_json(inst))


def add_routes(app: web.Application) -> None:
    # Registered before the institution routes: a fixed path wins over /{inst}/... patterns.
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/admin/truth/{id_number}", truth)
    app.router.add_get("/admin/institutions/{inst}/behaviour", get_behaviour)
    app.router.add_put("/admin/institutions/{inst}/behaviour", put_behaviour)
    app.router.add_delete("/admin/institutions/{inst}/behaviour", delete_behaviour)
