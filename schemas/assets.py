"""Assets as institutions report them. Money is integer fen; every asset carries ``value_fen``
(balance for money, appraised or estimated value for property) and the debtor's ``share_percent``,
so totals are one rule for every kind: ``value_fen * share_percent // 100``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The field that identifies an asset of each kind, to officers and institutions alike.
ID_FIELD: dict[str, str] = {"deposit": "account_no", "real_estate": "unit_no", "vehicle": "plate", "wallet": "wallet_id",
                            "fund_account": "account_no", "equity": "holding_no", "court_claim": "claim_no"}


def asset_id(asset: Mapping[str, Any]) -> str:
    """The id of an asset as reported (a JSON object): account number, unit number, plate or wallet id."""
    return asset[ID_FIELD[asset["kind"]]]


def attributable_fen(asset: Mapping[str, Any]) -> int:
    """The debtor's part of an asset's value: what it counts for in totals, plans and over-freezing."""
    return asset["value_fen"] * asset.get("share_percent", 100) // 100


Fen = Annotated[int, Field(ge=0, description="amount in fen (1/100 yuan), never a float")]
Share = Annotated[int, Field(ge=1, le=100, description="the debtor's share of the asset, percent")]


class _Asset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    institution_id: str
    value_fen: Fen
    share_percent: Share = 100
    co_owners: list[str] = Field(default_factory=list, description="id numbers of other holders")

    @property
    def asset_id(self) -> str:
        return getattr(self, ID_FIELD[self.kind])  # type: ignore[attr-defined]

    @property
    def attributable_fen(self) -> int:
        return attributable_fen({"value_fen": self.value_fen, "share_percent": self.share_percent})


class DepositAccount(_Asset):
    kind: Literal["deposit"] = "deposit"
    account_no: str = Field(description="bank card or account number")
    account_type: Literal["debit_card", "savings", "corporate", "social_insurance", "housing_provident_fund"] = Field(
        description="social_insurance (社保卡 benefits) and housing_provident_fund (住房公积金) accounts are protected")
    currency: Literal["CNY"] = "CNY"
    protected: bool = Field(False, description="funds that may not be frozen (e.g. migrant-worker wage account)")
    protected_reason: str | None = None


class RealEstate(_Asset):
    kind: Literal["real_estate"] = "real_estate"
    unit_no: str = Field(description="不动产单元号, 28 characters")
    certificate_no: str = Field(description="不动产权证书号")
    address: str
    floor_area_dm2: int = Field(ge=0, description="floor area in square decimetres (1 m² = 100 dm²)")


class Vehicle(_Asset):
    kind: Literal["vehicle"] = "vehicle"
    plate: str
    vin: str = Field(min_length=17, max_length=17)
    model: str
    registered_on: str = Field(description="ISO date of first registration")


class PaymentWallet(_Asset):
    kind: Literal["wallet"] = "wallet"
    wallet_id: str


class FundAccount(_Asset):
    """A housing-provident-fund (住房公积金) or social-insurance (社会保险) account at a fund centre:
    its balance is reported, but the law keeps it out of enforcement's reach."""

    kind: Literal["fund_account"] = "fund_account"
    account_no: str = Field(description="个人账号 at the centre")
    fund_type: Literal["housing_provident_fund", "social_insurance"]
    account_status: Literal["正常", "封存"] = Field(description="contributions being paid (正常) or suspended (封存)")
    protected: Literal[True] = True
    protected_reason: str = Field(description="the legal reason it may not be frozen or deducted")


class Shareholding(_Asset):
    """Equity in a company (股权) as the market regulator registers it; ``value_fen`` is the holding's
    estimated worth (its part of the company's net assets), property-like: frozen whole, never deducted."""

    kind: Literal["equity"] = "equity"
    holding_no: str = Field(description="股权登记编号 at the regulator")
    company_name: str
    company_uscc: str = Field(description="the company's unified social credit code")
    registered_capital_fen: int = Field(ge=0, description="the company's registered capital (注册资本), fen")
    subscribed_fen: int = Field(ge=0, description="the holder's subscribed contribution (认缴出资额), fen")
    holding_bp: int = Field(ge=1, le=10_000, description="the holder's share of the company (持股比例), basis points")


class CourtClaim(_Asset):
    """Money another court owes the debtor as the applicant (申请执行人) in its own enforcement case
    (执行案款债权): ``value_fen`` is what that court has collected for him and not yet paid out
    (待发放案款), money-like: a withholding (扣留) holds it at that court, a deduction moves it."""

    kind: Literal["court_claim"] = "court_claim"
    claim_no: str = Field(description="案款债权编号 at the court that owes it")
    case_number: str = Field(description="that court's enforcement case in which the debtor is the applicant")
    amount_due_fen: int = Field(ge=0, description="what the case awards him (执行标的), fen")
    collected_fen: int = Field(ge=0, description="already collected for him and paid out (已执行到位), fen")


Asset = Annotated[DepositAccount | RealEstate | Vehicle | PaymentWallet | FundAccount | Shareholding | CourtClaim,
                  Field(discriminator="kind")]
ASSET_KINDS = ("deposit", "real_estate", "vehicle", "wallet", "equity", "fund_account", "court_claim")


def asset_sort_key(asset: _Asset) -> tuple[str, str, str]:
    return (asset.kind, asset.institution_id, asset.asset_id)  # type: ignore[attr-defined]
