"""Makers of single assets: one deposit account, property unit, vehicle or wallet at a time.

``Population`` decides who holds what; this module decides what one holding looks like. Money
is skewed the way enforcement sees it: log-normal balances, so most accounts hold little and a
few hold a lot. Numbers that must be unique (cards, units, plates, wallets) are drawn against
``seen`` sets so two debtors never share an identifier by accident, only by design (joint units).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from schemas.assets import CourtClaim, DepositAccount, FundAccount, PaymentWallet, RealEstate, Shareholding, Vehicle
from schemas.directory import Institution, fund_type_of
from simulators.identities import REGIONS, Region, luhn_number, plate, vin

MAX_FEN = 50_000_000_000  # 5亿元: cap on one balance so a log-normal tail stays believable
WAGE_ACCOUNT_REASON = "农民工工资专用账户"
# Benefit accounts the law keeps out of enforcement's reach.
BENEFIT_ACCOUNTS = {
    "social_insurance": "社会保险基金账户，依法不得冻结、扣划",
    "housing_provident_fund": "住房公积金账户，未满足提取条件，不得冻结、扣划",
}

# Issuer prefixes (BIN) of debit cards, cycled over banks; corporate accounts use branch-style prefixes.
_CARD_BINS = (
    "622202", "622848", "621661", "621700", "622262", "621799", "622588", "621768", "622660",
    "622630", "622622", "621483", "622155", "622908", "622521", "621516", "621268", "622897",
    "621468", "621050", "622173", "621016",
)

# Land registries by position in the directory; extra registries reuse the cities in turn.
_LAND_CITIES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("石家庄市", ("130102", "130104", "130105", "130108"), 15_000),
    ("保定市", ("130602", "130606"), 11_000),
    ("唐山市", ("130202", "130203"), 10_000),
)
_DISTRICTS = {r.code: r.district for r, _ in REGIONS}
_ROADS = ("中山路", "建设大街", "裕华路", "友谊大街", "和平路", "东风路", "槐安路", "朝阳大街", "胜利街", "体育南大街")
_ESTATES = ("阳光", "锦绣", "御景", "华府", "名都", "翡翠", "金域", "馨园", "世纪", "怡和")

# (WMI, model, new price in yuan): common makes of Chinese-built cars.
_MODELS = (
    ("LSV", "大众朗逸", 130_000), ("LFV", "大众速腾", 160_000), ("LFV", "奥迪A4L", 320_000),
    ("LSG", "别克英朗", 110_000), ("LHG", "本田雅阁", 190_000), ("LVG", "丰田凯美瑞", 210_000),
    ("LGB", "日产轩逸", 120_000), ("LBV", "宝马3系", 330_000), ("LGX", "比亚迪秦PLUS", 130_000),
    ("LB3", "吉利帝豪", 80_000), ("LVS", "福特福克斯", 110_000), ("LGW", "长城哈弗H6", 120_000),
    ("LZW", "五菱宏光", 50_000), ("LRW", "特斯拉Model 3", 260_000), ("LFN", "解放J6P重卡", 400_000),
)


def land_city(registry_index: int) -> str:
    """The city a land registry serves, by its position among the directory's registries."""
    return _LAND_CITIES[registry_index % len(_LAND_CITIES)][0]


def lognormal_fen(rng: random.Random, median_fen: int, sigma: float, zero_rate: float = 0.0) -> int:
    """Log-normal amount around a median, with some exactly-empty accounts (dormant, drained)."""
    if rng.random() < zero_rate:
        return 0
    return min(MAX_FEN, int(rng.lognormvariate(math.log(median_fen), sigma)))


def geometric(rng: random.Random, p_more: float, most: int) -> int:
    """1, 2, 3, ... up to ``most``: each further one with probability ``p_more``."""
    n = 1
    while n < most and rng.random() < p_more:
        n += 1
    return n


@dataclass
class AssetMaker:
    rng: random.Random
    seen: set[str] = field(default_factory=set)
    _cert_seq: int = 0

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self.seen:
                self.seen.add(value)
                return value

    # --- deposits -----------------------------------------------------------------------------
    def debit_card(self, bank: Institution, bank_index: int) -> DepositAccount:
        rng = self.rng
        length = rng.choice((16, 19, 19))
        no = self._unique(lambda: luhn_number(rng, _CARD_BINS[bank_index % len(_CARD_BINS)], length))
        return DepositAccount(
            institution_id=bank.id, account_no=no, account_type="debit_card",
            value_fen=lognormal_fen(rng, 300_000, 1.8, zero_rate=0.08),
        )

    def savings(self, bank: Institution, bank_index: int) -> DepositAccount:
        rng = self.rng
        no = self._unique(lambda: luhn_number(rng, f"6{bank_index % 100:02d}0", 19))
        return DepositAccount(
            institution_id=bank.id, account_no=no, account_type="savings",
            value_fen=lognormal_fen(rng, 2_000_000, 1.6, zero_rate=0.05),
        )

    def corporate(self, bank: Institution, bank_index: int, wage_account: bool) -> DepositAccount:
        rng = self.rng
        no = self._unique(lambda: luhn_number(rng, f"1{bank_index % 100:02d}", rng.choice((17, 18, 19))))
        if wage_account:  # payroll pass-through: modest balance, legally untouchable
            return DepositAccount(
                institution_id=bank.id, account_no=no, account_type="corporate",
                value_fen=lognormal_fen(rng, 5_000_000, 1.0), protected=True, protected_reason=WAGE_ACCOUNT_REASON,
            )
        return DepositAccount(
            institution_id=bank.id, account_no=no, account_type="corporate",
            value_fen=lognormal_fen(rng, 20_000_000, 2.0, zero_rate=0.10),
        )

    def benefit(self, bank: Institution, bank_index: int, account_type: str) -> DepositAccount:
        """A social-insurance or housing-provident-fund account: reported, never frozen."""
        rng = self.rng
        no = self._unique(lambda: luhn_number(rng, _CARD_BINS[bank_index % len(_CARD_BINS)], 19))
        return DepositAccount(
            institution_id=bank.id, account_no=no, account_type=account_type,  # type: ignore[arg-type]
            value_fen=lognormal_fen(rng, 1_500_000, 1.2), protected=True, protected_reason=BENEFIT_ACCOUNTS[account_type],
        )

    # --- real estate --------------------------------------------------------------------------
    def property_unit(self, registry: Institution, registry_index: int, area_scale: float = 1.0) -> RealEstate:
        """One unit registered at ``registry``; co-ownership is applied by the caller."""
        rng = self.rng
        city, districts, price_per_m2 = _LAND_CITIES[registry_index % len(_LAND_CITIES)]
        region = rng.choice(districts)
        unit_no = self._unique(
            lambda: f"{region}{rng.randrange(1, 20):03d}{rng.randrange(1, 50):03d}GB{rng.randrange(1, 100_000):05d}"
            f"F{rng.randrange(1, 100):04d}{rng.randrange(101, 3300):04d}"
        )
        self._cert_seq += 1
        year = rng.randint(2016, 2025)
        certificate = f"冀({year}){city}不动产权第{self._cert_seq * 7 + rng.randrange(7):07d}号"
        area_dm2 = int(rng.lognormvariate(math.log(9_500), 0.35) * area_scale)
        building, unit, room = rng.randint(1, 30), rng.randint(1, 4), rng.randint(1, 33) * 100 + rng.randint(1, 4)
        address = (
            f"河北省{city}{_DISTRICTS[region]}{rng.choice(_ROADS)}{rng.randint(1, 399)}号"
            f"{rng.choice(_ESTATES)}小区{building}号楼{unit}单元{room}室"
        )
        value = area_dm2 * price_per_m2 * rng.uniform(0.7, 1.4)  # yuan per m² → fen per dm² is the same number
        return RealEstate(
            institution_id=registry.id, unit_no=unit_no, certificate_no=certificate, address=address,
            floor_area_dm2=area_dm2, value_fen=min(MAX_FEN, int(value)),
        )

    # --- vehicles -----------------------------------------------------------------------------
    def vehicle(self, office: Institution, region: Region) -> Vehicle:
        rng = self.rng
        wmi, model, price_yuan = rng.choice(_MODELS)
        year = rng.randint(2008, 2025)
        registered = date(year, rng.randint(1, 12), rng.randint(1, 28))
        age = max(0, 2025 - year)
        value_fen = int(price_yuan * 100 * (0.85**age) * rng.uniform(0.8, 1.1))
        return Vehicle(
            institution_id=office.id, plate=self._unique(lambda: plate(rng, region.plate)),
            vin=self._unique(lambda: vin(rng, wmi, year)), model=model,
            registered_on=registered.isoformat(), value_fen=value_fen,
        )

    # --- fund centres -------------------------------------------------------------------------
    def fund_account(self, centre: Institution) -> FundAccount:
        """A provident-fund or social-insurance account at ``centre`` (its type is the centre's)."""
        rng = self.rng
        fund_type = fund_type_of(centre)
        median = 3_000_000 if fund_type == "housing_provident_fund" else 1_500_000
        return FundAccount(
            institution_id=centre.id, account_no=self._unique(lambda: f"{rng.randrange(10**11, 10**12)}"),
            fund_type=fund_type,  # type: ignore[arg-type]
            account_status="正常" if rng.random() < 0.9 else "封存",
            value_fen=lognormal_fen(rng, median, 1.1), protected_reason=BENEFIT_ACCOUNTS[fund_type],
        )

    # --- equity -------------------------------------------------------------------------------
    def shareholding(self, registry: Institution, company_name: str, company_uscc: str) -> Shareholding:
        """A holding in ``company``: its registered capital, the holder's part of it, and what that
        part is worth (the company's net assets over its capital vary widely)."""
        rng = self.rng
        capital = min(MAX_FEN, lognormal_fen(rng, 100_000_000, 1.2) // 100_000 * 100_000 or 1_000_000)  # whole thousands of yuan
        bp = rng.choice((500, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 10_000))
        subscribed = capital * bp // 10_000
        return Shareholding(
            institution_id=registry.id, holding_no=self._unique(lambda: f"GQ{company_uscc[2:8]}{rng.randrange(10**8):08d}"),
            company_name=company_name, company_uscc=company_uscc, registered_capital_fen=capital,
            subscribed_fen=subscribed, holding_bp=bp, value_fen=min(MAX_FEN, int(subscribed * rng.uniform(0.3, 2.5))),
        )

    # --- court claims ---------------------------------------------------------------------------
    def court_claim(self, court: Institution, court_code: str) -> CourtClaim:
        """The debtor as the applicant in one of ``court``'s enforcement cases (``court_code`` as its
        case numbers carry it): what the case awards him, what has reached him, and what the court
        has collected for him and not yet paid out (often instalments of a settlement, 执行和解)."""
        rng = self.rng
        due = min(MAX_FEN, lognormal_fen(rng, 30_000_000, 1.0) // 100 * 100 or 100_000)  # whole yuan
        collected = int(due * rng.uniform(0.0, 0.5))
        pending = 0 if rng.random() < 0.15 else int((due - collected) * rng.uniform(0.05, 0.6))
        year = rng.choice((2022, 2023, 2024, 2025))
        return CourtClaim(
            institution_id=court.id, claim_no=self._unique(lambda: f"AK{court_code[1:]}{year}{rng.randrange(10**7):07d}"),
            case_number=f"({year}){court_code}执{'恢' if rng.random() < 0.2 else ''}{rng.randint(1, 9999)}号",
            amount_due_fen=due, collected_fen=collected, value_fen=pending,
        )

    # --- wallets ------------------------------------------------------------------------------
    def wallet(self, app: Institution, app_index: int, company: bool) -> PaymentWallet:
        rng = self.rng
        if app_index % 2 == 0:  # WeChat-Pay style: opaque open id
            wid = self._unique(lambda: f"wx{rng.getrandbits(64):016x}")
        else:  # Alipay style: 2088 + 12 digits
            wid = self._unique(lambda: f"2088{rng.randrange(10**12):012d}")
        median = 2_000_000 if company else 15_000
        return PaymentWallet(institution_id=app.id, wallet_id=wid, value_fen=lognormal_fen(rng, median, 1.5, 0.05))
