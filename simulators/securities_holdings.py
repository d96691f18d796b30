"""Securities accounts and holdings at the national depository (中国结算), from their own random
stream after the banks, registries, fund centres and the regulator, so adding the depository moved
none of their holdings; the courts' claims come after it from a stream of their own that never
looks at securities, so neither moves the other.

Who holds something elsewhere may hold listed shares too (property owners more often); a company
invests now and then. One account per holder, Shanghai style (``A`` + 9 digits) or Shenzhen style
(10 digits), with one to four holdings of well-known listed securities; quantities are board lots of
100 shares, and a holding's value is its quantity times the day's price, in whole fen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from schemas.assets import Asset, RealEstate, SecuritiesHolding, holding_id
from schemas.directory import Directory, Institution
from simulators.holdings import MAX_FEN, geometric

P_PERSON_WITH_PROPERTY = 0.25
P_PERSON = 0.08
P_COMPANY = 0.10

# (code, short name, typical price in fen): Shanghai codes start with 6, Shenzhen ones with 0 or 3.
SECURITIES: tuple[tuple[str, str, int], ...] = (
    ("600519", "贵州茅台", 150_000), ("601398", "工商银行", 600), ("600036", "招商银行", 3_500),
    ("601318", "中国平安", 4_500), ("600900", "长江电力", 2_800), ("000858", "五粮液", 13_000),
    ("000001", "平安银行", 1_100), ("000333", "美的集团", 7_000), ("300750", "宁德时代", 20_000),
    ("002594", "比亚迪", 26_000), ("601857", "中国石油", 800), ("600028", "中国石化", 600),
)


class Debtorish(Protocol):
    kind: str
    id_number: str


def add_securities(rng: random.Random, directory: Directory, holdings: dict[str, list[Asset]],
                   debtors: Sequence[Debtorish]) -> None:
    depositories = directory.of_kind("securities")
    if not depositories:
        return
    seen: set[str] = set()
    for d in debtors:
        mine = holdings.get(d.id_number)
        if not mine:
            continue  # who holds nothing anywhere holds nothing here either
        p = P_COMPANY if d.kind == "organisation" else P_PERSON_WITH_PROPERTY if any(isinstance(a, RealEstate) for a in mine) else P_PERSON
        if rng.random() < p:
            mine.extend(_account(rng, rng.choice(depositories), seen, company=d.kind == "organisation"))


def _account(rng: random.Random, depository: Institution, seen: set[str], company: bool) -> list[SecuritiesHolding]:
    while True:
        account = f"A{rng.randrange(10**9):09d}" if rng.random() < 0.6 else f"0{rng.randrange(10**9):09d}"
        if account not in seen:
            seen.add(account)
            break
    out = []
    for code, name, typical in rng.sample(SECURITIES, geometric(rng, 0.45, 4)):
        price = max(1, int(typical * rng.uniform(0.8, 1.2)))
        lots = max(1, int(rng.lognormvariate(3.0 if company else 1.6, 1.0)))
        quantity = min(lots * 100, MAX_FEN // price // 100 * 100)
        out.append(SecuritiesHolding(institution_id=depository.id, holding_id=holding_id(account, code), account_no=account,
                                     security_code=code, security_name=name, quantity=quantity, price_fen=price,
                                     value_fen=quantity * price))
    return out
