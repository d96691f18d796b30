"""The court directory the gateway trusts: each court's code (as case numbers carry it), its name
and its enforcement-fund account (执行款专户), the only account a deduction may pay into.

A case belongs to the court whose code is in its case number: ``(2025)冀0108执4502号`` is
石家庄市裕华区人民法院's. Names are for people to read. Deployments replace the built-in list with
``ASSETGW_COURTS_FILE`` (JSON: ``[{"code", "name", "enforcement_account"}, …]``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson


@dataclass(frozen=True, slots=True)
class Court:
    code: str
    name: str
    enforcement_account: str


# Simulated courts of Hebei province (codes follow the administrative divisions, GB/T 2260);
# the account numbers are made up and belong to no real bank.
_BUILT_IN = (
    Court("冀01", "河北省石家庄市中级人民法院", "1304010100000000011"),
    Court("冀0102", "石家庄市长安区人民法院", "1304010100000000102"),
    Court("冀0104", "石家庄市桥西区人民法院", "1304010100000000104"),
    Court("冀0105", "石家庄市新华区人民法院", "1304010100000000105"),
    Court("冀0108", "石家庄市裕华区人民法院", "1304010100000000108"),
    Court("冀0181", "辛集市人民法院", "1304010100000000181"),
    Court("冀0602", "保定市竞秀区人民法院", "1306010100000000602"),
    Court("冀0606", "保定市莲池区人民法院", "1306010100000000606"),
    Court("冀0202", "唐山市路南区人民法院", "1302010100000000202"),
)


class Courts:
    def __init__(self, courts: Iterable[Court]) -> None:
        self.all = tuple(courts)
        self.by_code = {c.code: c for c in self.all}
        if len(self.by_code) != len(self.all):
            raise ValueError("the court directory lists a court code twice")

    @classmethod
    def built_in(cls) -> Courts:
        return cls(_BUILT_IN)

    @classmethod
    def from_env(cls) -> Courts:
        """``ASSETGW_COURTS_FILE`` if set, else the built-in courts."""
        path = os.environ.get("ASSETGW_COURTS_FILE")
        if not path:
            return cls.built_in()
        try:
            entries = orjson.loads(Path(path).read_bytes())
            return cls(Court(str(e["code"]), str(e["name"]), str(e["enforcement_account"])) for e in entries)
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"ASSETGW_COURTS_FILE={path}: not a list of {{code, name, enforcement_account}}: {exc}") from None

    def get(self, code: str | None) -> Court | None:
        return self.by_code.get(code) if code else None
