"""Life goes on while courts wait: background activity on the simulators' clock, so the feeds carry
news nobody asked for — salaries and transfers arriving, debtors spending, their cars passing
cameras, their hotel stays.

One action per tick at ``rate_per_s`` (``ASSETGW_SIM_ACTIVITY_PER_S``; 0 = off), on the assets the
network knows of (``LedgerBook.known``): a change to an asset nobody asked about is no event
anyway. Check-ins concern any person of the population (all are listed debtors). Choices draw from
their own random stream (``{seed}:activity``, as the population's benefits do), so the same seed
and the same known assets give the same story.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterable

import structlog

from schemas.directory import Institution
from simulators.holdings import lognormal_fen
from simulators.ledger import Refused
from simulators.ledger_book import LedgerBook
from simulators.observations import check_in, sight_vehicle
from simulators.places import CAMERA_CITIES, camera, hotel, lodging_province

# (action, weight): what a tick does, as long as it has something to act on.
ACTIONS = (("salary", 0.25), ("transfer_in", 0.15), ("spend", 0.30), ("sighting", 0.15), ("check_in", 0.15))
MONEY_KINDS = ("bank", "payment")
log = structlog.get_logger("simulator.activity")


class Activity:
    def __init__(self, book: LedgerBook, institutions: Iterable[Institution], seed: int) -> None:
        self.book = book
        self.rng = random.Random(f"{seed}:activity")
        self.by_kind: dict[str, list[Institution]] = {}
        for i in institutions:
            self.by_kind.setdefault(i.kind, []).append(i)
        self.lodging_index = {i.id: n for n, i in enumerate(self.by_kind.get("lodging", []))}
        self.persons = [d.id_number for d in book.population.debtors if d.kind == "person"]
        self.done: dict[str, int] = {}  # action → how many happened (tests, logs)

    async def run(self, rate_per_s: float) -> None:
        """One ``step`` every 1/rate seconds until cancelled; a mishap in one step is not fatal."""
        if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
            return
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            try:
                self.step()
                self.book.journal.flush()  # nobody waits on an answer here, but the feed must not forget
            except Exception:
                log.exception("activity step failed")
            due += 1 / rate_per_s
            await asyncio.sleep(max(0.0, due - loop.time()))

    def step(self) -> str | None:
        """One plausible thing happens; its name, or ``None`` if nothing could."""
        names, weights = zip(*ACTIONS, strict=True)
        first = self.rng.choices(names, weights)[0]
        # The drawn action first, then the rest in order: early on, before any query, only
        # check-ins have anyone to act on.
        for action in (first, *(n for n in names if n != first)):
            if getattr(self, f"_{action}")():
                self.done[action] = self.done.get(action, 0) + 1
                return action
        return None

    # --- actions: each returns whether it happened --------------------------------------------------
    def _salary(self) -> bool:
        return self._credit(lognormal_fen(self.rng, 600_000, 0.5), kinds=("bank",))

    def _transfer_in(self) -> bool:
        return self._credit(lognormal_fen(self.rng, 100_000, 1.2), kinds=MONEY_KINDS)

    def _credit(self, amount_fen: int, kinds: tuple[str, ...]) -> bool:
        picked = self._known(kinds)
        if picked is None or amount_fen <= 0:
            return False
        try:
            self.book.credit(*picked, amount_fen)
        except (LookupError, Refused):
            return False
        return True

    def _spend(self) -> bool:
        picked = self._known(MONEY_KINDS)
        if picked is None:
            return False
        ledger = self.book.ledger(*picked)
        if ledger is None or ledger.available_fen <= 0:
            return False
        amount = max(1, min(ledger.available_fen, lognormal_fen(self.rng, 20_000, 1.0)))
        self.book.debit(*picked, amount)
        return True

    def _sighting(self) -> bool:
        picked = self._known(("vehicle",))
        if picked is None:
            return False
        institution_id, plate = picked
        city = None if self.rng.random() < 0.7 else self.rng.choice(CAMERA_CITIES)  # mostly at home
        holder = self.book.holder(institution_id, plate)
        record = self.book.population.find(holder) if holder else None
        home = record.region.city if record is not None else self.rng.choice(CAMERA_CITIES)
        sight_vehicle(self.book, institution_id, plate, camera(self.rng, city or home), city or home)
        return True

    def _check_in(self) -> bool:
        registries = self.by_kind.get("lodging", [])
        if not registries or not self.persons:
            return False
        registry = self.rng.choice(registries)
        _, cities = lodging_province(self.lodging_index[registry.id])
        city = self.rng.choice(cities)
        check_in(self.book, registry.id, self.rng.choice(self.persons), hotel(self.rng, city), city)
        return True

    def _known(self, kinds: tuple[str, ...]) -> tuple[str, str] | None:
        """A known asset at an institution of ``kinds``: (institution_id, asset_id), or ``None``."""
        pools = [(i.id, self.book.known.at(i.id)) for k in kinds for i in self.by_kind.get(k, [])]
        pools = [(inst, ids) for inst, ids in pools if ids]
        if not pools:
            return None
        institution_id, ids = self.rng.choices(pools, [len(ids) for _, ids in pools])[0]
        return institution_id, ids[self.rng.randrange(len(ids))]
