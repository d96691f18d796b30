"""Where things are seen: car parks and road cameras that read plates, and hotels that register
guests with the provincial police's lodging system (旅馆业治安管理信息系统). Plausible names only."""

from __future__ import annotations

import random

# Lodging registries by position in the directory (a third would reuse the first province).
LODGING_PROVINCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("河北省", ("石家庄市", "保定市", "唐山市", "廊坊市", "邯郸市")),
    ("广东省", ("广州市", "深圳市", "东莞市", "佛山市", "珠海市")),
)
CAMERA_CITIES = ("石家庄市", "保定市", "唐山市", "北京市", "天津市", "济南市", "郑州市")
_ROADS = ("中山路", "建设大街", "裕华路", "友谊大街", "和平路", "东风路", "槐安路", "朝阳大街", "胜利街", "人民路", "解放路", "滨河路")
_CAR_PARKS = ("万达广场地下停车场", "北国商城停车场", "火车站南广场停车场", "市第一医院停车场", "万象城P2停车场",
              "高铁站西广场停车场", "银泰城地下停车场", "国际会展中心停车场", "永辉超市停车场", "机场T2停车楼")
_HOTEL_BRANDS = ("如家酒店", "汉庭酒店", "7天连锁酒店", "锦江之星", "格林豪泰", "全季酒店", "维也纳酒店", "亚朵酒店", "城市便捷酒店")


def lodging_province(registry_index: int) -> tuple[str, tuple[str, ...]]:
    return LODGING_PROVINCES[registry_index % len(LODGING_PROVINCES)]


def camera(rng: random.Random, city: str) -> str:
    """A car park, or a road camera at a junction (卡口), in ``city``."""
    if rng.random() < 0.5:
        return f"{city}{rng.choice(_CAR_PARKS)}"
    first, second = rng.sample(_ROADS, 2)
    return f"{city}{first}与{second}交叉口卡口"


def hotel(rng: random.Random, city: str) -> str:
    """A hotel's name and address in ``city``."""
    road = rng.choice(_ROADS)
    return f"{rng.choice(_HOTEL_BRANDS)}({city}{road}店) {city}{road}{rng.randint(1, 399)}号"
