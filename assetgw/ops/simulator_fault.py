"""``assetgw simulator-fault``: read or change one institution's misbehaviour at run time.

Talks to the admin API of the simulator serving the institution's kind (``--url``, else
``ASSETGW_SIM_URL_{KIND}`` as the connectors use, which a running ``assetgw up`` fills in from its
endpoints file) and prints the resulting behaviour as JSON.
Options map one to one onto the admin fields (``simulators.behaviour.Behaviour``); the simulator
validates them, so its 400 message names the field at fault.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aiohttp
import orjson

from schemas.directory import KINDS

TIMEOUT_S = 10.0


def _outage(text: str) -> dict[str, float]:
    start, sep, length = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return {"in_s": float(start), "for_s": float(length)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected IN_S:FOR_S, e.g. 5:30 (down in 5 s, for 30 s)") from None


def build_patch(args: argparse.Namespace) -> dict[str, Any]:
    """The admin JSON patch for the options given (those left out are not sent)."""
    fields = {
        "latency": args.latency, "error_rate": args.error_rate, "error_status": args.error_status,
        "throttle_rate": args.throttle_rate, "retry_after_s": args.retry_after, "malformed_rate": args.malformed_rate,
        "truncated_rate": args.truncated_rate, "reset_rate": args.reset_rate, "hang": args.hang,
        "outage_mode": args.outage_mode,
    }
    patch = {name: value for name, value in fields.items() if value is not None}
    if args.clear_outages or args.outage:
        patch["outages"] = list(args.outage or [])
    return patch


def kind_of(institution_id: str) -> str:
    from infra.settings import Settings

    institution = Settings.from_env().directory.by_id.get(institution_id)
    if institution is not None:
        return institution.kind
    kind = institution_id.split("-", 1)[0]  # beyond the local directory: ids are "{kind}-NN"
    if kind not in KINDS:
        raise ValueError(f"unknown institution {institution_id!r}: ids look like bank-03, land-01, vehicle-01, payment-02")
    return kind


def simulator_url(kind: str) -> str:
    from infra.settings import Settings

    return Settings.from_env().simulator_urls[kind].rstrip("/")


class FaultError(Exception):
    """What to tell the operator when the change could not be made."""


async def _call(http: aiohttp.ClientSession, method: str, url: str, json: Any = None) -> dict[str, Any]:
    async with http.request(method, url, json=json) as r:
        raw = await r.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if r.status != 200:
            reason = body.get("reason") if isinstance(body, dict) else raw[:200].decode(errors="replace")
            raise FaultError(f"{method} {url}: HTTP {r.status}: {reason}")
        if not isinstance(body, dict):
            raise FaultError(f"{method} {url}: the answer is not a JSON object")
        return body


async def apply_fault(args: argparse.Namespace) -> dict[str, Any]:
    """Reset (if asked), patch (if anything is given), and return the institution's behaviour.
    ``FaultError`` with a message for a person on any failure."""
    try:
        kind = kind_of(args.institution)
    except ValueError as exc:
        raise FaultError(str(exc)) from None
    base = args.url.rstrip("/") if args.url else simulator_url(kind)
    url = f"{base}/admin/institutions/{args.institution}/behaviour"
    patch = build_patch(args)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as http:
            behaviour = None
            if args.reset_behaviour:
                behaviour = await _call(http, "DELETE", url)
            if patch:
                behaviour = await _call(http, "PUT", url, patch)
            if behaviour is None:  # --show, or nothing to change: just read it
                behaviour = await _call(http, "GET", url)
            return behaviour
    except aiohttp.ClientError as exc:
        raise FaultError(f"cannot reach the {kind} simulator at {base} (--url, or ASSETGW_SIM_URL_{kind.upper()}): {exc}") from None
    except TimeoutError:
        raise FaultError(f"the {kind} simulator at {base} did not answer within {TIMEOUT_S:g} s") from None


def run(args: argparse.Namespace) -> None:
    try:
        behaviour = asyncio.run(apply_fault(args))
    except FaultError as exc:
        sys.exit(f"assetgw simulator-fault: {exc}")
    print(orjson.dumps(behaviour, option=orjson.OPT_INDENT_2).decode())


def add_fault_command(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "simulator-fault", help="show or change a simulated institution's faults (latency, errors, throttling, outages …)",
        description="Patch one institution's behaviour on its running simulator and print the result. "
                    "Options not given stay as they are; with none, the behaviour is shown.",
    )
    p.add_argument("institution", metavar="INSTITUTION", help="institution id, e.g. bank-03")
    p.add_argument("--url", metavar="URL", help="the simulator's base URL, e.g. http://127.0.0.1:18101 (default "
                                                "ASSETGW_SIM_URL_{KIND}, else the running stack's endpoints file)")
    p.add_argument("--latency", metavar="M:P", help="latency MEDIAN_MS:P99_MS, e.g. 200:2000 (0 for none)")
    p.add_argument("--error-rate", type=float, metavar="R", help="share of requests answered with --error-status (0..1)")
    p.add_argument("--error-status", type=int, metavar="S", help="HTTP status of injected errors (400-599; payment: code 20000)")
    p.add_argument("--throttle-rate", type=float, metavar="R", help="share answered 429 with Retry-After (0..1)")
    p.add_argument("--retry-after", type=float, metavar="S", help="Retry-After seconds of throttled answers (default 1)")
    p.add_argument("--malformed-rate", type=float, metavar="R", help="share answered 200 with a body that is not JSON (0..1)")
    p.add_argument("--truncated-rate", type=float, metavar="R", help="share answered 200 with half a JSON body (0..1)")
    p.add_argument("--reset-rate", type=float, metavar="R", help="share whose connection is reset unanswered (0..1)")
    p.add_argument("--hang", action=argparse.BooleanOptionalAction, default=None, help="never answer / answer again")
    p.add_argument("--outage", type=_outage, action="append", metavar="IN_S:FOR_S",
                   help="down from IN_S seconds from now for FOR_S seconds (repeatable; replaces the scheduled outages)")
    p.add_argument("--outage-mode", choices=("unavailable", "reset"), help="during outages answer 503 (default) or reset")
    p.add_argument("--clear-outages", action="store_true", help="cancel every scheduled outage")
    p.add_argument("--reset-behaviour", action="store_true", help="back to the simulator's default first, then apply the options")
    p.add_argument("--show", action="store_true", help="print the behaviour (what happens anyway; with no options it only reads)")
    p.set_defaults(func=run)
    return p
