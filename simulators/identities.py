"""Identifiers and names that look real: resident IDs, credit codes, card numbers, VINs, plates.

Every generator takes the caller's ``random.Random`` so a population is reproducible from its seed.
Check digits come from ``schemas.identifiers`` so generator and validator can never disagree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from schemas.identifiers import resident_id_check_digit, uscc_check_char

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100 alphabet (no I, O, S, V, Z)


@dataclass(frozen=True, slots=True)
class Region:
    code: str  # 6-digit administrative division code (GB/T 2260)
    province: str  # one-character abbreviation used on plates and certificates
    city: str
    district: str
    plate: str  # plate prefix of the city, e.g. 冀A


# Weighted towards Hebei: the simulated courts sit there, and so do most of their debtors.
REGIONS: tuple[tuple[Region, int], ...] = (
    (Region("130102", "冀", "石家庄市", "长安区", "冀A"), 8),
    (Region("130104", "冀", "石家庄市", "桥西区", "冀A"), 8),
    (Region("130105", "冀", "石家庄市", "新华区", "冀A"), 7),
    (Region("130108", "冀", "石家庄市", "裕华区", "冀A"), 7),
    (Region("130181", "冀", "石家庄市", "辛集市", "冀A"), 3),
    (Region("130602", "冀", "保定市", "竞秀区", "冀F"), 6),
    (Region("130606", "冀", "保定市", "莲池区", "冀F"), 6),
    (Region("130681", "冀", "保定市", "涿州市", "冀F"), 3),
    (Region("130202", "冀", "唐山市", "路南区", "冀B"), 5),
    (Region("130203", "冀", "唐山市", "路北区", "冀B"), 5),
    (Region("130283", "冀", "唐山市", "迁安市", "冀B"), 2),
    (Region("110101", "京", "北京市", "东城区", "京A"), 2),
    (Region("110105", "京", "北京市", "朝阳区", "京N"), 3),
    (Region("110108", "京", "北京市", "海淀区", "京Q"), 3),
    (Region("120101", "津", "天津市", "和平区", "津A"), 2),
    (Region("370102", "鲁", "济南市", "历下区", "鲁A"), 1),
    (Region("410105", "豫", "郑州市", "金水区", "豫A"), 1),
)
_REGION_LIST = [r for r, _ in REGIONS]
_REGION_CUM = list(accumulate(w for _, w in REGIONS))  # cumulative: rng.choices skips re-summing
REGION_BY_CODE = {r.code: r for r in _REGION_LIST}

_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
# Earlier surnames are far more common; a harmonic weight gives that long tail cheaply.
_SURNAME_CUM = list(accumulate(1.0 / (i + 4) for i in range(len(_SURNAMES))))
_GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣浩然子轩志国建新振海东峰晨阳博文"
_GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀玲桂英华慧巧美琳雪梅颖倩婷萍红燕琴云莉兰洁佳欣雨涵思怡梦瑶晓丹"

_TRADE_NAMES = "华鑫恒泰宏达盛通远鼎瑞丰顺安捷永信德源隆兴嘉禾博创联合金诚凯旋宇光明正天元中冀燕赵冠宏"
_INDUSTRIES = (
    "建筑工程", "建材", "商贸", "房地产开发", "物流", "机械设备", "电子科技", "食品", "劳务派遣",
    "装饰工程", "汽车销售", "农业开发", "餐饮管理", "钢铁贸易", "医药", "网络科技", "市政工程",
)
_COMPANY_FORMS = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")

_DAY0 = date(1950, 1, 1).toordinal()
_DAYN = date(2004, 12, 31).toordinal()


def pick_region(rng: random.Random) -> Region:
    return rng.choices(_REGION_LIST, cum_weights=_REGION_CUM)[0]


def resident_id(rng: random.Random, region: Region) -> tuple[str, bool]:
    """An 18-digit resident ID (GB 11643) born 1950-2004, and whether its holder is male
    (odd sequence number), so the name can match the sex like a real record would."""
    born = date.fromordinal(rng.randint(_DAY0, _DAYN))
    seq = rng.randrange(1000)
    first17 = f"{region.code}{born:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check_digit(first17), seq % 2 == 1


def org_code(rng: random.Random) -> str:
    """A 9-character organisation code (GB 11714): 8 characters and their check character."""
    body = "".join(rng.choices(_USCC_CHARS, k=8))
    total = sum(_gb11714_value(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=False))
    check = 11 - total % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


def _gb11714_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def uscc(rng: random.Random, region: Region) -> str:
    """A unified social credit code (GB 32100): "91" (工商, enterprise) + region + org code + check."""
    first17 = f"91{region.code}{org_code(rng)}"
    return first17 + uscc_check_char(first17)


def person_name(rng: random.Random, male: bool) -> str:
    pool = _GIVEN_MALE if male else _GIVEN_FEMALE
    given = rng.choice(pool) if rng.random() < 0.35 else rng.choice(pool) + rng.choice(pool)
    return rng.choices(_SURNAMES, cum_weights=_SURNAME_CUM)[0] + given


def company_name(rng: random.Random, region: Region) -> str:
    trade = rng.choice(_TRADE_NAMES) + rng.choice(_TRADE_NAMES)
    return f"{region.city.removesuffix('市')}{trade}{rng.choice(_INDUSTRIES)}{rng.choice(_COMPANY_FORMS)}"


def luhn_number(rng: random.Random, prefix: str, length: int) -> str:
    """A Luhn-valid number of ``length`` digits starting with ``prefix`` (bank card style)."""
    n = length - len(prefix) - 1
    body = f"{prefix}{rng.randrange(10**n):0{n}d}"
    return body + _luhn_check_digit(body)


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_check_digit(partial: str) -> str:
    """Same result as ``schemas.identifiers.luhn_check_digit`` (the tests check every card), but
    table-driven: card numbers are the bulk of generation time."""
    rev = partial[::-1]
    total = sum(_DOUBLED[d] for d in map(int, rev[0::2])) + sum(map(int, rev[1::2]))
    return str(-total % 10)


_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
_VIN_VALUES = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9), strict=False))
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_YEARS = "ABCDEFGHJKLMNPRSTVWXY123456789"  # model-year code cycle starting 1980 (A) / 2010 (A)


def vin(rng: random.Random, wmi: str, year: int) -> str:
    """A 17-character VIN (GB 16735 / ISO 3779) with a valid position-9 check digit."""
    vds = "".join(rng.choices(_VIN_CHARS, k=5))
    vis = _VIN_YEARS[(year - 1980) % 30] + rng.choice(_VIN_CHARS) + f"{rng.randrange(1_000_000):06d}"
    draft = wmi + vds + "0" + vis
    total = sum((int(c) if c.isdigit() else _VIN_VALUES[c]) * w for c, w in zip(draft, _VIN_WEIGHTS, strict=False))
    check = total % 11
    return draft[:8] + ("X" if check == 10 else str(check)) + draft[9:]


_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # plates skip I and O


def plate(rng: random.Random, prefix: str) -> str:
    """A plate like 冀A12345 (written 冀A·12345 on the plate; stored without the dot)."""
    tail = list(f"{rng.randrange(100_000):05d}")
    if rng.random() < 0.4:  # many plates carry a letter in the serial
        tail[rng.randrange(5)] = rng.choice(_PLATE_LETTERS)
    return prefix + "".join(tail)
