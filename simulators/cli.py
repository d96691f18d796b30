"""Command-line glue for the simulators: ``assetgw simulator``."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import structlog

from schemas.assets import ASSET_KINDS
from schemas.directory import KINDS, Directory
from schemas.signing import MissingPartnerKeys, NonceCache, PartnerKeys, PartnerKeysError, load_partner_keys
from simulators.behaviour import Behaviours
from simulators.latency import Latency
from simulators.ledger_book import LedgerBook
from simulators.partner_link import JournalledNonces
from simulators.population import DEFAULT_SEED, Population
from simulators.server import DEFAULT_PORTS, serve
from simulators.store import SqliteJournal, StoreError, open_store

log = structlog.get_logger("simulator")

INSECURE_FLAG = "ASSETGW_INSECURE_PARTNER_LINK"
ACTIVITY_VARIABLE = "ASSETGW_SIM_ACTIVITY_PER_S"  # the default of --activity


def parse_activity(text: str) -> float:
    """Background actions per second: a finite number, 0 (off) or more."""
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not (math.isfinite(rate) and rate >= 0):
        raise SystemExit(f"--activity / {ACTIVITY_VARIABLE}: {text!r} is not a number of actions per second (0 or more)")
    return rate


def parse_ports(text: str) -> dict[str, int]:
    ports = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, port = part.partition("=")
        if kind not in KINDS or not port.isdigit():
            raise SystemExit(f"--ports: bad entry {part!r}; expected kind=port with kind in {', '.join(KINDS)}")
        ports[kind] = int(port)
    return ports


def partner_keys_or_exit() -> PartnerKeys | None:
    """The keys that verify partner requests. Missing keys stop the start-up (an institution
    that answers anyone is a data leak) unless ASSETGW_INSECURE_PARTNER_LINK=1 says so."""
    try:
        return load_partner_keys()
    except MissingPartnerKeys as exc:
        if os.environ.get(INSECURE_FLAG, "").lower() in ("1", "true", "yes", "on"):
            log.warning("partner link NOT verified: any client may query and control the simulators",
                        reason=str(exc), because=f"{INSECURE_FLAG} is set")
            return None
        raise SystemExit(f"assetgw simulator: {exc}; or set {INSECURE_FLAG}=1 to run without verification") from None
    except PartnerKeysError as exc:  # configured but unusable: never silently insecure
        raise SystemExit(f"assetgw simulator: {exc}") from None


def store_path(data_dir: str, kinds: list[str]) -> Path:
    """One file per simulator process, named by the kinds it serves (in directory order, however
    given): processes serving other kinds from the same data directory keep their own."""
    return Path(data_dir) / "simulators" / f"{'+'.join(k for k in KINDS if k in kinds)}.sqlite3"


def durable_state(args: argparse.Namespace, kinds: list[str], population: Population) -> tuple[LedgerBook, NonceCache | None, SqliteJournal | None]:
    """The process's ledger book and nonce cache: restored from ``--data-dir`` and kept there, or
    (no data directory) in memory only."""
    if not args.data_dir:
        return LedgerBook(population), None, None
    counts = Counter(i.kind for i in population.directory.institutions)
    population_id = (f"seed {args.seed}, {args.persons} persons, {args.companies} companies, "
                     + ",".join(f"{k}={n}" for k, n in sorted(counts.items())))
    path = store_path(args.data_dir, kinds)
    nonces_window = NonceCache().ttl_s
    try:
        journal, saved, seen = open_store(path, population_id, nonces_window)
        book = LedgerBook(population, journal=journal)
        book.restore(saved)
    except (StoreError, ValueError) as exc:
        raise SystemExit(f"assetgw simulator: {exc}") from None
    nonces = JournalledNonces(journal)
    nonces.restore(seen)
    log.info("simulator state loaded", path=str(path), ledgers=len(saved.ledgers), answers=len(saved.answers),
             known_assets=len(saved.known), events=len(saved.events), nonces=len(seen),
             clock_offset_days=round(saved.clock_offset.total_seconds() / 86400, 3))
    return book, nonces, journal


async def run_simulators(args: argparse.Namespace, stop: asyncio.Event, on_ready: Callable[[], None] = lambda: None) -> None:
    """Serve until ``stop``; ``on_ready`` runs once the population is built and the servers listen."""
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise SystemExit(f"--kinds: unknown kind(s) {sorted(unknown)}; choose from {', '.join(KINDS)}")
    activity = parse_activity(args.activity)
    partner_keys = partner_keys_or_exit()
    ports = {**DEFAULT_PORTS, **parse_ports(args.ports)}
    population = Population.generate(seed=args.seed, persons=args.persons, companies=args.companies, directory=Directory.from_env())
    behaviours = Behaviours(default_latency=Latency.parse(args.latency))
    for spec in args.institution_latency:
        institution_id, _, latency = spec.partition("=")
        behaviours.update(institution_id, {"latency": latency})
    book, nonces, journal = durable_state(args, kinds, population)
    ready = asyncio.Event()
    host = os.environ.get("ASSETGW_SIM_BIND", "127.0.0.1")
    server = asyncio.create_task(serve(kinds, host, ports, population, behaviours, ready, ledgers=book, partner_keys=partner_keys,
                                       activity_per_s=activity, nonces=nonces))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([server, waiter], return_when=asyncio.FIRST_COMPLETED)
    if server.done():
        waiter.cancel()
        server.result()  # raises the start-up error
    log.info("simulators ready", ports={k: ports[k] for k in kinds}, debtors=len(population.debtors), latency=args.latency,
             activity_per_s=activity,
             partner_link="verified" if partner_keys is not None else "UNVERIFIED")
    on_ready()
    try:
        await stop.wait()
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        if journal is not None:
            journal.close()


def demo_debtor(seed: int = DEFAULT_SEED) -> tuple[dict[str, str], str]:
    """A debtor holding every kind of asset in the default population, and a registered credential."""
    population = Population.generate(seed=seed)
    for d in population.debtors:
        if {a.kind for a in population.assets_of(d.id_number)} == set(ASSET_KINDS):
            return {"kind": d.kind, "id_number": d.id_number, "name": d.name}, population.officer_credentials[0]
    raise RuntimeError("no debtor in the population holds every kind of asset")
