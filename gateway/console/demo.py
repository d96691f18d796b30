"""Demo sign-in, only where ``ASSETGW_CONSOLE_DEMO`` names credential numbers (``assetgw up``
sets it; off by default): a few officers of one court, each with one registered credential, so a
visitor can do a day's work — including the second officer a deduction needs."""

from __future__ import annotations

from dataclasses import dataclass

COURT, COURT_CODE = "石家庄市裕华区人民法院", "冀0108"


@dataclass(frozen=True)
class DemoOfficer:
    id: str
    name: str
    title: str
    roles: tuple[str, ...]
    credential: str


_STAFF = (
    ("DEMO-A1", "张明", "执行员：查询、冻结、申请扣划", ("officer", "deduct")),
    ("DEMO-B2", "李华", "执行局审批人：审批扣划", ("officer", "deduct")),
    ("DEMO-C3", "王芳", "书记员：查询与冻结，不可扣划", ("officer",)),
)


def demo_officers(credentials: tuple[str, ...]) -> list[DemoOfficer]:
    """None without credentials; with fewer credentials than officers, they are shared in turn."""
    if not credentials:
        return []
    return [DemoOfficer(oid, name, title, roles, credentials[i % len(credentials)]) for i, (oid, name, title, roles) in enumerate(_STAFF)]
