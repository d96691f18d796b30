"""The directory of partner institutions: the one list gateway, connectors and simulators share.

Institution ids are stable and derived from per-kind counts (``bank-01`` … ``bank-22``), so every
process that reads the same counts agrees on the same directory without a registry service.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KINDS = ("bank", "land", "vehicle", "payment", "lodging", "fund", "equity", "court", "airline", "railway", "securities")
# Kinds that hold assets and answer asset inquiries. A lodging registry (旅馆业治安管理信息系统)
# only reports debtors' hotel check-ins on its event feed: inquiries never fan out to it.
QUERY_KINDS = ("bank", "land", "vehicle", "payment", "fund", "equity", "court", "securities")
# Carriers (airlines through their booking systems, the railway's 12306) hold no assets either: they
# take consumption-restriction orders (限制高消费, 失信被执行人名单) and refuse a restricted person's
# tickets, reporting each refused purchase on their event feed.
RESTRICTION_KINDS = ("airline", "railway")
# fund: a housing-provident-fund centre and a social-insurance centre per province (Hebei, Beijing);
# equity: the market regulator's enterprise registry (市场监督管理局), where shareholdings are registered.
# court: other courts, asked through cross-court case association whether the debtor is the
# applicant in their cases (money they hold for him can be withheld: 扣留).
# securities: the national securities depository (中国证券登记结算), where listed shares are held by account.
# Banks that take no calls but poll the network's SFTP exchange for zipped batches of requests
# (the 总对总 file interface): the last ``ASSETGW_POLLING_BANKS`` of the banks, every
# ``ASSETGW_POLLING_INTERVAL`` seconds (their own schedule; the network only knows it to be honest
# about how long an answer takes). docs/partners.md, "The file exchange".
DEFAULT_POLLING_BANKS = 6
DEFAULT_POLLING_INTERVAL_S = 5.0
DEFAULT_COUNTS = {"bank": 22, "land": 3, "vehicle": 1, "payment": 2, "lodging": 2, "fund": 4, "equity": 1, "court": 3,
                  "airline": 2, "railway": 1, "securities": 1}

_NAMES = {
    "bank": [
        "中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行", "中国邮政储蓄银行",
        "招商银行", "中信银行", "中国光大银行", "华夏银行", "中国民生银行", "广发银行", "平安银行",
        "兴业银行", "上海浦东发展银行", "浙商银行", "渤海银行", "恒丰银行", "北京银行", "上海银行",
        "江苏银行", "河北银行",
    ],
    "land": ["石家庄市不动产登记中心", "保定市不动产登记中心", "唐山市不动产登记中心"],
    "vehicle": ["公安部交通管理局车辆管理所"],
    "payment": ["财付通(微信支付)", "支付宝"],
    "lodging": ["河北省公安厅旅馆业治安管理信息系统", "广东省公安厅旅馆业治安管理信息系统"],
    # Alternating: a provident-fund centre, then its province's social-insurance centre (fund_type_of).
    "fund": ["河北省住房公积金管理中心", "河北省社会保险事业管理局", "北京住房公积金管理中心", "北京市社会保险基金管理中心"],
    "equity": ["国家市场监督管理总局企业信用信息系统"],
    "court": ["石家庄市中级人民法院", "北京市朝阳区人民法院", "天津市和平区人民法院"],
    "airline": ["中国国际航空", "中国东方航空"],
    "railway": ["中国国家铁路集团(12306)"],
    "securities": ["中国证券登记结算有限责任公司"],
}
@dataclass(frozen=True, slots=True)
class Institution:
    id: str
    kind: str
    name: str
    polls: bool = False  # a bank that polls the file exchange instead of taking calls


def polling_interval_s(env: Mapping[str, str] | None = None) -> float:
    """How often the polling banks look into their inboxes, from ``ASSETGW_POLLING_INTERVAL``."""
    raw = (os.environ if env is None else env).get("ASSETGW_POLLING_INTERVAL") or str(DEFAULT_POLLING_INTERVAL_S)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise ValueError(f"ASSETGW_POLLING_INTERVAL: bad value {raw!r}; expected seconds, more than 0 and at most 86400")
    return value


FUND_TYPES = ("housing_provident_fund", "social_insurance")


def fund_type_of(institution: Institution) -> str:
    """What a fund centre keeps: odd-numbered centres the housing provident fund, even ones social insurance."""
    return FUND_TYPES[(int(institution.id.rsplit("-", 1)[1]) - 1) % 2]


class UnknownInstitution(ValueError):
    def __init__(self, index: int, value: str) -> None:
        super().__init__(f"unknown institution or kind {value!r}")
        self.index = index
        self.value = value


class NotQueryable(UnknownInstitution):
    """A known institution (or kind) that holds no assets, named in an inquiry's scope."""

    def __init__(self, index: int, value: str, kind: str) -> None:
        super().__init__(index, value)
        self.args = (f"{value!r} is a {kind} institution: it holds no assets and answers no inquiries; "
                     f"an inquiry may name only {', '.join(QUERY_KINDS)} institutions or kinds",)


class Directory:
    def __init__(self, institutions: Iterable[Institution]) -> None:
        self.institutions = tuple(institutions)
        self.by_id = {i.id: i for i in self.institutions}

    @classmethod
    def from_counts(cls, counts: dict[str, int] | None = None, polling_banks: int = DEFAULT_POLLING_BANKS) -> Directory:
        """``polling_banks``: how many of the banks, the last ones, poll the file exchange."""
        counts = {**DEFAULT_COUNTS, **(counts or {})}
        out = []
        for kind in KINDS:
            names = _NAMES[kind]
            total = counts.get(kind, 0)
            for n in range(1, total + 1):
                base = names[(n - 1) % len(names)]
                name = base if n <= len(names) else f"{base}({n})"
                polls = kind == "bank" and n > total - polling_banks
                out.append(Institution(id=f"{kind}-{n:02d}", kind=kind, name=name, polls=polls))
        return cls(out)

    @classmethod
    def from_env(cls) -> Directory:
        """Counts from ``ASSETGW_INSTITUTIONS``, e.g. ``bank=22,land=3,vehicle=1,payment=2``; the
        polling banks' number from ``ASSETGW_POLLING_BANKS`` (0: every bank takes calls)."""
        raw = os.environ.get("ASSETGW_POLLING_BANKS") or str(DEFAULT_POLLING_BANKS)
        if not (raw.isascii() and raw.isdigit()):
            raise ValueError(f"ASSETGW_POLLING_BANKS: bad value {raw!r}; expected a whole number of banks (0 or more)")
        return cls.from_counts(parse_counts(os.environ.get("ASSETGW_INSTITUTIONS", "")), int(raw))

    def of_kind(self, kind: str) -> list[Institution]:
        return [i for i in self.institutions if i.kind == kind]

    def polling(self) -> list[Institution]:
        """The banks that poll the file exchange."""
        return [i for i in self.institutions if i.polls]

    def queryable(self) -> list[Institution]:
        """The institutions an inquiry may ask: those of ``QUERY_KINDS``."""
        return [i for i in self.institutions if i.kind in QUERY_KINDS]

    def resolve_scope(self, scope: list[str] | None) -> list[Institution]:
        """Institutions named by ids or kinds; ``None`` or empty means every queryable one. Naming
        one that answers no inquiries (a lodging registry) raises ``NotQueryable``, an unknown one
        ``UnknownInstitution``. Order follows the directory."""
        if not scope:
            return self.queryable()
        wanted: set[str] = set()
        for index, value in enumerate(scope):
            kind = self.by_id[value].kind if value in self.by_id else value if value in KINDS else None
            if kind is None:
                raise UnknownInstitution(index, value)
            if kind not in QUERY_KINDS:
                raise NotQueryable(index, value, kind)
            if value in self.by_id:
                wanted.add(value)
            else:
                wanted.update(i.id for i in self.of_kind(value))
        return [i for i in self.institutions if i.id in wanted]


def parse_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, number = part.partition("=")
        if kind not in KINDS or not number.isdigit():
            raise ValueError(f"ASSETGW_INSTITUTIONS: bad entry {part!r}; expected kind=count with kind in {KINDS}")
        counts[kind] = int(number)
    return counts
