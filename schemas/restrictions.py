"""Consumption restrictions at the carriers (seed 003): what an officer asks, and the law behind it.

A court may restrict a judgment debtor's high consumption (限制高消费) — among other things, flying
and the better seats on trains — and may list him as a dishonest debtor (失信被执行人名单), which
brings the same restriction with it. The airlines (through their booking systems) and the railway's
12306 refuse his tickets while it is in force. Each measure rests on its own Supreme People's Court
provisions and its own decision document; lifting it (解除限制) takes a decision of its own, as an
unfreeze takes its own ruling.

One officer action places the measure at every carrier: one order per carrier (each with its own
answer, retries and audit trail), all stored in one unit of work or none.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas.api import check_credentials
from schemas.identifiers import check_case_number, check_resident_id, check_uscc, looks_like_uscc
from schemas.text import Text

Measure = Literal["restrict_consumption", "list_dishonest"]


class LegalBasis(BaseModel):
    model_config = ConfigDict(frozen=True)
    title: str  # how officers and carriers name the measure
    basis: str  # the provisions it rests on
    document: str  # the decision the court serves


# The one table of what each measure is and rests on (法释〔2015〕17号, 法释〔2017〕7号).
LEGAL_BASIS: dict[str, LegalBasis] = {
    "restrict_consumption": LegalBasis(
        title="限制高消费", basis="《最高人民法院关于限制被执行人高消费及有关消费的若干规定》（法释〔2015〕17号）",
        document="限制消费令"),
    "list_dishonest": LegalBasis(
        title="纳入失信被执行人名单", basis="《最高人民法院关于公布失信被执行人名单信息的若干规定》（法释〔2017〕7号）",
        document="纳入失信被执行人名单决定书"),
}
LIFT_TITLE = "解除限制"
# A carrier's refusal names the rule: 限高 art. 3 — flights, soft sleepers, every seat of a
# G-series train and first class and above on other bullet trains.
REFUSED_FARES = "乘坐飞机、列车软卧、G字头动车组列车全部座位、其他动车组列车一等以上座位"


def _person(value: str) -> str:
    if looks_like_uscc(value):
        check_uscc(value)
        raise ValueError("an organisation buys no tickets: its restriction binds its legal representative and "
                         "the persons responsible (限高规定 art. 3), who are restricted by their own resident ID")
    return check_resident_id(value)


CaseNumber = Annotated[str, AfterValidator(check_case_number), Field(description="案号 of a case of the officer's court")]
Person = Annotated[str, AfterValidator(_person), Field(description="a natural person debtor of the case (18-digit resident ID)")]
Credentials = Annotated[list[str], AfterValidator(check_credentials), Field(min_length=1, max_length=4)]


class _Basis(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_number: CaseNumber
    court: Text = Field(min_length=2, max_length=64)
    debtor_id_number: Person
    decision_number: Text = Field(min_length=1, max_length=64,
                                  description="the decision's number: 限制消费令, 失信决定书, or the decision lifting them")
    notice_number: Text = Field(min_length=1, max_length=64, description="协助执行通知书 number")
    officer_credentials: Credentials
    operator: Text | None = Field(None, min_length=1, max_length=32, description="the acting officer; from the token")
    idempotency_key: Text = Field(min_length=8, max_length=128)


class RestrictionCreate(_Basis):
    """``POST /v1/restrictions``: place a measure on a debtor at every carrier."""

    measure: Measure = Field(description="restrict_consumption (限制高消费) or list_dishonest (纳入失信被执行人名单)")


class RestrictionLift(_Basis):
    """``POST /v1/restrictions/lift``: lift the debtor's measures of this case at every carrier
    where they are in force (``measure`` narrows it to one)."""

    measure: Measure | None = Field(None, description="lift only this measure; both when omitted")
