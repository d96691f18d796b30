"""The simulated world: debtors, what each holds where, and which officers are registered.

One seed fixes everything, so every simulator process and every test sees the same ground
truth. Identities, assets and officers draw from separate random streams (``Random`` seeded
with a string is SHA-512 based, stable across runs and independent of ``PYTHONHASHSEED``), so
e.g. adding banks to the directory reshuffles assets but never the debtors' names or IDs.

The population is immutable after ``generate``; the institution simulators only read it.
"""

from __future__ import annotations

import gc
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from schemas.assets import Asset, RealEstate, asset_sort_key
from schemas.debtor import Debtor
from schemas.directory import FUND_TYPES, Directory, Institution, fund_type_of
from simulators.holdings import AssetMaker, geometric, land_city
from simulators.identities import (
    REGION_BY_CODE,
    Region,
    company_name,
    person_name,
    pick_region,
    resident_id,
    uscc,
)

DEFAULT_SEED = 20251122

# Shares of the skew; comments give the resulting share of all people.
P_PERSON_EMPTY = 0.40  # hold nothing anywhere
P_PERSON_PROPERTY = 0.36  # of holders; with joint units ~25% of people own property
P_JOINT_UNIT = 0.10  # of units: held 50/50 with another debtor (a spouse, usually)
P_PERSON_VEHICLE = 0.33  # of holders: ~20% of people
P_PERSON_WALLET = 0.95  # of holders: ~57% of people; almost every banked person pays by phone
P_BOTH_WALLETS = 0.40
P_COMPANY_EMPTY = 0.25  # shell companies: the usual enforcement disappointment
P_WAGE_ACCOUNT = 0.03  # of company accounts: migrant-worker wage accounts, protected
P_SOCIAL_INSURANCE = 0.15  # of people: a social-insurance account with benefits (protected)
P_PROVIDENT_FUND = 0.10  # of people: a housing-provident-fund account (protected)
# At the fund centres (their own stream): accounts of people who hold anything.
P_CENTRE_PROVIDENT = 0.35
P_CENTRE_SOCIAL = 0.50
# At the market regulator (its own stream): property owners often own a business; companies invest.
P_PERSON_EQUITY_WITH_PROPERTY = 0.20
P_PERSON_EQUITY = 0.03
P_COMPANY_EQUITY = 0.20
# At the other courts (their own stream): debtors who are applicants in other cases (seed 000).
# Business owners and companies sue more; someone with nothing else may still be owed.
P_PERSON_CLAIM = 0.03
P_PERSON_CLAIM_WITH_EQUITY = 0.25
P_COMPANY_CLAIM = 0.10
N_OFFICERS = 100
REFUSAL_UNREGISTERED = "officer credentials not registered with this institution (执行公务证未备案)"


@dataclass(frozen=True, slots=True)
class DebtorRecord:
    kind: Literal["person", "organisation"]
    id_number: str
    name: str

    @property
    def region(self) -> Region:
        code = self.id_number[:6] if self.kind == "person" else self.id_number[2:8]
        return REGION_BY_CODE[code]

    def as_debtor(self) -> Debtor:
        return Debtor(kind=self.kind, id_number=self.id_number, name=self.name)


class Population:
    def __init__(
        self,
        *,
        seed: int,
        directory: Directory,
        debtors: list[DebtorRecord],
        holdings: dict[str, list[Asset]],
        officer_credentials: list[str],
    ) -> None:
        self.seed = seed
        self.directory = directory
        self.debtors = debtors
        self.officer_credentials = officer_credentials
        self._by_id = {d.id_number: d for d in debtors}
        self._holdings = {k: sorted(v, key=asset_sort_key) for k, v in holdings.items() if v}
        self._at: dict[tuple[str, str], list[Asset]] = defaultdict(list)
        for id_number, assets in self._holdings.items():
            for asset in assets:
                self._at[(asset.institution_id, id_number)].append(asset)
        self._at = dict(self._at)
        self._registered = frozenset(officer_credentials)

    # --- queries ------------------------------------------------------------------------------
    def find(self, id_number: str) -> DebtorRecord | None:
        return self._by_id.get(id_number)

    def assets_of(self, id_number: str) -> list[Asset]:
        """Everything the debtor holds, at every institution, in ``asset_sort_key`` order."""
        return list(self._holdings.get(id_number, ()))

    def assets_at(self, institution_id: str, id_number: str) -> list[Asset]:
        return list(self._at.get((institution_id, id_number), ()))

    def is_customer(self, institution_id: str, id_number: str) -> bool:
        return (institution_id, id_number) in self._at

    def holders_at(self, institution_id: str) -> list[str]:
        """Id numbers of the debtors holding anything at the institution, in debtor order."""
        return [d.id_number for d in self.debtors if (institution_id, d.id_number) in self._at]

    def is_registered(self, credentials: Iterable[str]) -> bool:
        """Institutions act only on requests naming at least one pre-registered officer."""
        return any(c in self._registered for c in credentials)

    # --- generation ---------------------------------------------------------------------------
    @classmethod
    def generate(
        cls,
        seed: int = DEFAULT_SEED,
        persons: int = 10_000,
        companies: int = 1_000,
        directory: Directory | None = None,
    ) -> Population:
        directory = directory or Directory.from_counts()
        with _gc_paused():
            debtors = _debtors(random.Random(f"{seed}:identities"), persons, companies)
            holdings = _Distributor(random.Random(f"{seed}:assets"), directory, random.Random(f"{seed}:benefits")).run(debtors)
            _Registrations(random.Random(f"{seed}:registrations"), directory, holdings).run(debtors)
            _CourtClaims(random.Random(f"{seed}:court-claims"), directory, holdings).run(debtors)
            officers = registered_credentials(seed)
            return cls(seed=seed, directory=directory, debtors=debtors, holdings=holdings, officer_credentials=officers)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Generation allocates ~100k long-lived, acyclic objects; the cyclic collector would rescan
    them over and over for nothing (it was a third of the run time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _debtors(rng: random.Random, persons: int, companies: int) -> list[DebtorRecord]:
    seen: set[str] = set()
    out: list[DebtorRecord] = []
    while len(out) < persons:
        region = pick_region(rng)
        id_number, male = resident_id(rng, region)
        if id_number not in seen:
            seen.add(id_number)
            out.append(DebtorRecord("person", id_number, person_name(rng, male)))
    names: set[str] = set()
    while len(out) < persons + companies:
        region = pick_region(rng)
        code, name = uscc(rng, region), company_name(rng, region)
        if code not in seen and name not in names:  # registered names are unique within a city
            seen.add(code)
            names.add(name)
            out.append(DebtorRecord("organisation", code, name))
    return out


def registered_credentials(seed: int = DEFAULT_SEED) -> list[str]:
    """The credential numbers registered with the institutions of the population of ``seed``, without
    generating the rest of it: demos and tests issue officers' tokens carrying them."""
    rng = random.Random(f"{seed}:officers")
    out: dict[str, None] = {}  # ordered set
    while len(out) < N_OFFICERS:
        out[f"ZF{rng.randrange(10**8):08d}"] = None
    return list(out)


class _Distributor:
    """Decides who holds what, where; ``AssetMaker`` shapes each single holding."""

    def __init__(self, rng: random.Random, directory: Directory, benefits_rng: random.Random) -> None:
        self.rng = rng
        self.make = AssetMaker(rng)
        # Benefit accounts draw from their own stream, so adding them moved no other holding.
        self.benefits_rng = benefits_rng
        self.benefits = AssetMaker(benefits_rng, seen=self.make.seen)
        self.banks = directory.of_kind("bank")
        # The big state banks hold most retail accounts.
        self.bank_pool = [i for i in range(len(self.banks)) for _ in range(3 if i < 6 else 1)]
        self.lands = directory.of_kind("land")
        self.offices = directory.of_kind("vehicle")
        self.apps = directory.of_kind("payment")
        self.holdings: dict[str, list[Asset]] = defaultdict(list)

    def run(self, debtors: Sequence[DebtorRecord]) -> dict[str, list[Asset]]:
        rng = self.rng
        people = [d for d in debtors if d.kind == "person"]
        holders = [d for d in people if rng.random() >= P_PERSON_EMPTY]
        for person in holders:
            self._person(person, holders)
        for company in (d for d in debtors if d.kind == "organisation"):
            if rng.random() >= P_COMPANY_EMPTY:
                self._company(company)
        for person in holders:  # people who hold nothing hold no benefit account either
            self._benefit_accounts(person)
        return dict(self.holdings)

    def _benefit_accounts(self, d: DebtorRecord) -> None:
        """Social-insurance cards and housing-provident-fund accounts at the big state banks."""
        rng = self.benefits_rng
        for account_type, share in (("social_insurance", P_SOCIAL_INSURANCE), ("housing_provident_fund", P_PROVIDENT_FUND)):
            if self.banks and rng.random() < share:
                index = rng.randrange(min(6, len(self.banks)))
                self.holdings[d.id_number].append(self.benefits.benefit(self.banks[index], index, account_type))

    def _person(self, d: DebtorRecord, holders: list[DebtorRecord]) -> None:
        rng, mine = self.rng, self.holdings[d.id_number]
        for index, bank in self._pick_banks(geometric(rng, 0.45, 4)):
            mine.append(self.make.debit_card(bank, index))
            if rng.random() < 0.25:
                mine.append(self.make.savings(bank, index))
        if self.lands and rng.random() < P_PERSON_PROPERTY:
            for _ in range(1 if rng.random() < 0.85 else rng.randint(2, 4)):
                self._property(d, holders)
        if self.offices and rng.random() < P_PERSON_VEHICLE:
            for _ in range(1 if rng.random() < 0.9 else 2):
                mine.append(self.make.vehicle(rng.choice(self.offices), d.region))
        if self.apps and rng.random() < P_PERSON_WALLET:
            both = len(self.apps) > 1 and rng.random() < P_BOTH_WALLETS
            for index in sorted(rng.sample(range(len(self.apps)), 2 if both else 1)):
                mine.append(self.make.wallet(self.apps[index], index, company=False))

    def _company(self, d: DebtorRecord) -> None:
        rng, mine = self.rng, self.holdings[d.id_number]
        for index, bank in self._pick_banks(geometric(rng, 0.5, 4)):
            for _ in range(1 if rng.random() < 0.7 else 2):
                mine.append(self.make.corporate(bank, index, wage_account=rng.random() < P_WAGE_ACCOUNT))
        if self.lands and rng.random() < 0.12:
            for _ in range(geometric(rng, 0.4, 3)):
                index, registry = self._pick_registry(d.region)
                mine.append(self.make.property_unit(registry, index, area_scale=3.0))
        if self.offices and rng.random() < 0.30:
            for _ in range(geometric(rng, 0.5, 6)):
                mine.append(self.make.vehicle(rng.choice(self.offices), d.region))
        if self.apps and rng.random() < 0.08:
            index = rng.randrange(len(self.apps))
            mine.append(self.make.wallet(self.apps[index], index, company=True))

    def _property(self, d: DebtorRecord, holders: list[DebtorRecord]) -> None:
        rng = self.rng
        index, registry = self._pick_registry(d.region)
        unit = self.make.property_unit(registry, index)
        partner = rng.choice(holders) if rng.random() < P_JOINT_UNIT and len(holders) > 1 else None
        if partner is None or partner.id_number == d.id_number:
            self.holdings[d.id_number].append(unit)
            return
        # One unit, two records that mirror each other: each holds half and names the other.
        self.holdings[d.id_number].append(_share(unit, partner.id_number))
        self.holdings[partner.id_number].append(_share(unit, d.id_number))

    def _pick_banks(self, n: int) -> list[tuple[int, Institution]]:
        """``n`` distinct banks (fewer if the directory has fewer), weighted, in directory order."""
        chosen: set[int] = set()
        while len(chosen) < min(n, len(self.banks)):
            chosen.add(self.rng.choice(self.bank_pool))
        return [(i, self.banks[i]) for i in sorted(chosen)]

    def _pick_registry(self, region: Region) -> tuple[int, Institution]:
        """Mostly the registry of the debtor's own city, else any: people buy where they live."""
        local = [i for i in range(len(self.lands)) if land_city(i) == region.city]
        index = self.rng.choice(local) if local and self.rng.random() < 0.7 else self.rng.randrange(len(self.lands))
        return index, self.lands[index]


class _Registrations:
    """Accounts at the fund centres and shareholdings at the market regulator, from their own random
    stream after everything else: adding these kinds moved no earlier holding. Who holds something
    already (``holdings``) is who may have a fund account; equity is in the population's companies."""

    def __init__(self, rng: random.Random, directory: Directory, holdings: dict[str, list[Asset]]) -> None:
        self.rng = rng
        self.holdings = holdings
        self.make = AssetMaker(rng, seen={a.asset_id for assets in holdings.values() for a in assets})  # type: ignore[attr-defined]
        self.centres = {t: [i for i in directory.of_kind("fund") if fund_type_of(i) == t] for t in FUND_TYPES}
        self.registries = directory.of_kind("equity")

    def run(self, debtors: Sequence[DebtorRecord]) -> None:
        rng = self.rng
        companies = [d for d in debtors if d.kind == "organisation"]
        for d in debtors:
            mine = self.holdings.get(d.id_number)
            if not mine:
                continue  # who holds nothing anywhere holds nothing here either
            if d.kind == "person":
                for fund_type, share in (("housing_provident_fund", P_CENTRE_PROVIDENT), ("social_insurance", P_CENTRE_SOCIAL)):
                    centres = self.centres[fund_type]
                    if centres and rng.random() < share:
                        # The centre of the debtor's province: Beijing's second, Hebei's (and everyone else's) first.
                        mine.append(self.make.fund_account(centres[min(int(d.region.province == "京"), len(centres) - 1)]))
            owns_property = any(isinstance(a, RealEstate) for a in mine)
            p_equity = P_COMPANY_EQUITY if d.kind == "organisation" else P_PERSON_EQUITY_WITH_PROPERTY if owns_property else P_PERSON_EQUITY
            if self.registries and companies and rng.random() < p_equity:
                for _ in range(geometric(rng, 0.3, 3)):
                    company = rng.choice(companies)
                    if company.id_number != d.id_number and all(getattr(a, "company_uscc", None) != company.id_number for a in mine):
                        mine.append(self.make.shareholding(rng.choice(self.registries), company.name, company.id_number))


class _CourtClaims:
    """Other courts' cases in which a debtor is the applicant (申请执行人), from their own random
    stream after everything else, so adding them moved no earlier holding. A claim sits mostly at
    the court of the debtor's own region (Hebei, Beijing, Tianjin), and may be all he has."""

    COURT_CODES = ("冀01", "京0105", "津0101")  # the directory's courts, in order; extra ones reuse them
    REGION_OF_COURT = ("冀", "京", "津")

    def __init__(self, rng: random.Random, directory: Directory, holdings: dict[str, list[Asset]]) -> None:
        self.rng = rng
        self.holdings = holdings
        self.make = AssetMaker(rng, seen={a.asset_id for assets in holdings.values() for a in assets})  # type: ignore[attr-defined]
        self.courts = directory.of_kind("court")

    def run(self, debtors: Sequence[DebtorRecord]) -> None:
        rng = self.rng
        if not self.courts:
            return
        for d in debtors:
            mine = self.holdings.get(d.id_number, [])
            owns_equity = any(a.kind == "equity" for a in mine)
            p = P_COMPANY_CLAIM if d.kind == "organisation" else P_PERSON_CLAIM_WITH_EQUITY if owns_equity else P_PERSON_CLAIM
            if rng.random() >= p:
                continue
            for _ in range(geometric(rng, 0.35, 3)):
                index = self._court_index(d)
                court = self.courts[index]
                mine.append(self.make.court_claim(court, self.COURT_CODES[index % len(self.COURT_CODES)]))
            self.holdings[d.id_number] = mine

    def _court_index(self, d: DebtorRecord) -> int:
        local = [i for i in range(len(self.courts)) if self.REGION_OF_COURT[i % 3] == d.region.province]
        return self.rng.choice(local) if local and self.rng.random() < 0.7 else self.rng.randrange(len(self.courts))


def _share(unit: RealEstate, other: str) -> RealEstate:
    return RealEstate.model_validate({**unit.model_dump(), "share_percent": 50, "co_owners": [other]})
