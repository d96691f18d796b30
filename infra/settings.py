"""Settings for every component, read from the environment so one process tree (``assetgw up``),
docker-compose and the tests configure the same way.

pydantic-settings reads and checks the variables; a value that does not fit fails as
``SettingsError`` naming the variable and what it expects. Secrets are not settings: they are read
where they are used, each with its ``_FILE`` form (``gateway.http.auth``, ``schemas.signing``)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import ports
from schemas.directory import KINDS, Directory, Institution, polling_interval_s


class SettingsError(ValueError):
    """The environment holds a value the components cannot use; the message names the variable."""


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(value: Any) -> Any:
    """On for the words that always meant on, off for their opposites, in any case; any other
    word is an error, where it used to mean off."""
    if isinstance(value, bool):  # the default: BaseSettings validates defaults too
        return value
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        return value.lower() in _TRUE
    raise PydanticCustomError("flag", "expected one of {words}", {"words": ", ".join(_TRUE + _FALSE)})


Flag = Annotated[bool, BeforeValidator(_flag)]
Count = Annotated[int, Field(ge=1)]
Port = Annotated[int, Field(ge=0, le=65535)]  # 0: any free port, or the component's own default
_POSITIVE = Field(gt=0, allow_inf_nan=False)
Seconds = Annotated[float, _POSITIVE]
PerSecond = Annotated[float, _POSITIVE]


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class _Environment(BaseSettings):
    """The variables exactly as named in the environment, with their defaults. An empty value
    counts as unset, as it always has."""

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True, frozen=True)

    KAFKA_BOOTSTRAP: str = f"127.0.0.1:{ports.BROKER}"
    # Tansu has no idempotent producer; `assetgw up --engine tansu` turns this off.
    ASSETGW_KAFKA_IDEMPOTENCE: Flag = True
    # Names this process among its peers (static group membership); unique per process.
    ASSETGW_INSTANCE: str = Field(default_factory=lambda: f"{socket.gethostname()}-0")
    ASSETGW_TOPIC_PREFIX: str = "assetgw"
    ASSETGW_PARTITIONS: Count = 4
    ASSETGW_DATA_DIR: Path = Path(".assetgw")
    ASSETGW_API_HOST: str = "127.0.0.1"
    ASSETGW_API_PORT: Port = ports.API
    # Connector workers' /metrics; 0 picks the default port of the worker's kind.
    ASSETGW_METRICS_PORT: Port = 0
    # Host of every simulator whose ASSETGW_SIM_URL_{KIND} is not given.
    ASSETGW_SIM_HOST: str = "127.0.0.1"
    ASSETGW_INQUIRY_DEADLINE: Seconds = 600.0
    # Freezes are reported done within 2 days; an order unanswered by then is failed.
    ASSETGW_ORDER_DEADLINE: Seconds = 2 * 24 * 3600.0
    # Longer than a connector's worst case (attempts x call timeout + backoff), so a re-send
    # only happens when the work or its answer was lost.
    ASSETGW_RESEND_AFTER: Seconds = 120.0
    ASSETGW_CALL_TIMEOUT: Seconds = 10.0
    ASSETGW_CALL_ATTEMPTS: Count = 4
    ASSETGW_BREAKER_FAILURES: Count = 5
    ASSETGW_BREAKER_COOLDOWN: Seconds = 5.0
    ASSETGW_MAX_INFLIGHT_PER_INSTITUTION: Count = 16
    ASSETGW_MAX_INFLIGHT: Count = 512  # messages a worker handles at once
    # Legs a worker holds at once, over all its messages: bounds its memory in a bulk run.
    ASSETGW_MAX_INFLIGHT_LEGS: Count = 10000
    # Legs of one inquiry and institution kind the gateway puts in one message.
    ASSETGW_LEGS_PER_MESSAGE: Count = 200
    # How long a worker holds a message's early answers for more to go out with them; the
    # last answer never waits (0: never hold). Fewer, larger result messages cost the gateway less.
    ASSETGW_RESULT_LINGER_MS: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 50.0
    ASSETGW_RATE_LIMIT: PerSecond = 200.0
    ASSETGW_RATE_BURST: PerSecond = 400.0
    # Requests without a valid token, per client address: a flood of them is answered 429
    # before it costs more than a few counted audit rows.
    ASSETGW_ANON_RATE_LIMIT: PerSecond = 10.0
    ASSETGW_ANON_RATE_BURST: PerSecond = 100.0
    # The API closes a connection that is idle, or has not sent a request's whole head, this long
    # after it opened or after its last answer (slow-header clients); longer than clients' own
    # keep-alive (aiohttp's 15 s), so they close an idle connection first.
    ASSETGW_HEADER_TIMEOUT: Seconds = 20.0
    # The longest a request body may take to arrive (408 after): a slow-body client is cut off.
    ASSETGW_BODY_TIMEOUT: Seconds = 60.0
    # What a natural person keeps free of his deposits (the local minimum-living standard, 低保
    # 标准, per month; Shijiazhuang's is about 900 yuan): integer fen, 0 turns the rule off.
    ASSETGW_LIVING_ALLOWANCE_FEN: Annotated[int, Field(ge=0, le=10**9)] = 90_000
    # The web console's demo sign-in: credential numbers (执行公务证, comma-separated) for a few demo
    # officers of one court. Empty, the default: no demo sign-in; only `assetgw up` sets it.
    ASSETGW_CONSOLE_DEMO: Annotated[str, Field(pattern=r"^([A-Za-z0-9]{4,32}(,[A-Za-z0-9]{4,32})*)?$")] = ""
    # How often the gateway reconciles its copy of freezes and balances with every institution's
    # ledger, so a lost event cannot leave it wrong for long; 0 turns the schedule off.
    ASSETGW_RECONCILE_EVERY: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 900.0
    # How long the broker keeps messages of the topics it creates (all but the dead letters), in
    # seconds; 0, the default, leaves it to the broker (noida-db keeps everything, Apache Kafka 7
    # days). `assetgw rebuild` re-derives only what the topics hold. noida-db holds every message in
    # memory and each fetch costs more the more it holds (infra/kafka/topics.py), so a long-running
    # embedded stack wants a bound.
    ASSETGW_TOPIC_RETENTION: Annotated[int, Field(ge=0, le=10**9)] = 0
    # Where the gateway keeps its store: SQLite in its data directory (one gateway process), or a
    # PostgreSQL database at ASSETGW_DATABASE_URL, which several gateway processes may share.
    ASSETGW_STORE: Literal["sqlite", "postgres"] = "sqlite"
    ASSETGW_DATABASE_URL: str = ""
    # What every component logs: DEBUG, INFO (the default), WARNING or ERROR, in any case.
    ASSETGW_LOG_LEVEL: Annotated[LogLevel, BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)] = "INFO"


def _describe(error: ErrorDetails) -> str:
    variable = ".".join(str(part) for part in error["loc"])
    return f"{variable}={error['input']!r}: {error['msg']}"


def _simulator_url(kind: str, sim_host: str) -> str:
    # One variable per institution kind, and the kinds come from the directory, so these names
    # are not fields of the model; a URL is taken as given, like KAFKA_BOOTSTRAP.
    return os.environ.get(f"ASSETGW_SIM_URL_{kind.upper()}") or f"http://{sim_host}:{ports.SIMULATORS[kind]}"


def log_level() -> str:
    """``ASSETGW_LOG_LEVEL``, checked alone: logging is set up before the rest is read."""
    raw = os.environ.get("ASSETGW_LOG_LEVEL") or "INFO"
    if raw.upper() not in LogLevel.__args__:  # type: ignore[attr-defined]
        raise SettingsError(f"ASSETGW_LOG_LEVEL={raw!r}: expected one of {', '.join(LogLevel.__args__)}")  # type: ignore[attr-defined]
    return raw.upper()


def institution_url_variable(institution_id: str) -> str:
    """``ASSETGW_INSTITUTION_URL_BANK_03`` for bank-03: one institution's own base URL (a partner's
    own implementation under test) in place of its kind's simulator."""
    return "ASSETGW_INSTITUTION_URL_" + institution_id.upper().replace("-", "_")


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str
    kafka_idempotence: bool
    instance: str
    topic_prefix: str
    partitions: int
    data_dir: Path
    api_host: str
    api_port: int
    metrics_port: int
    simulator_urls: dict[str, str]
    institution_urls: dict[str, str]  # institution id -> its own base URL, where one is set
    inquiry_deadline_s: float
    order_deadline_s: float
    resend_after_s: float
    call_timeout_s: float
    call_attempts: int
    max_inflight_per_institution: int
    breaker_failures: int
    breaker_cool_down_s: float
    max_inflight: int
    max_inflight_legs: int
    legs_per_message: int
    result_linger_s: float
    rate_limit_per_s: float
    rate_limit_burst: float
    anon_rate_limit_per_s: float
    anon_rate_limit_burst: float
    header_timeout_s: float
    body_timeout_s: float
    living_allowance_fen: int
    console_demo: tuple[str, ...]
    reconcile_every_s: float
    topic_retention_s: int
    store: str
    database_url: str
    log_level: str
    directory: Directory = field(compare=False)
    # How often the polling banks look into the file exchange (ASSETGW_POLLING_INTERVAL): a call
    # to one may take that much longer than ``call_timeout_s``.
    polling_interval_s: float = 5.0

    @classmethod
    def from_env(cls) -> Settings:
        """``SettingsError`` names every variable whose value does not fit, on one line."""
        try:
            env = _Environment()
        except ValidationError as exc:
            raise SettingsError("; ".join(_describe(error) for error in exc.errors())) from None
        if env.ASSETGW_STORE == "postgres" and not env.ASSETGW_DATABASE_URL.startswith(("postgresql://", "postgres://")):
            raise SettingsError("ASSETGW_DATABASE_URL: ASSETGW_STORE=postgres needs a postgresql:// URL")
        try:
            directory = Directory.from_env()
            polling_s = polling_interval_s()
        except ValueError as exc:  # its message names the variable
            raise SettingsError(str(exc)) from None
        return cls(
            kafka_bootstrap=env.KAFKA_BOOTSTRAP,
            kafka_idempotence=env.ASSETGW_KAFKA_IDEMPOTENCE,
            instance=env.ASSETGW_INSTANCE,
            topic_prefix=env.ASSETGW_TOPIC_PREFIX,
            partitions=env.ASSETGW_PARTITIONS,
            data_dir=env.ASSETGW_DATA_DIR,
            api_host=env.ASSETGW_API_HOST,
            api_port=env.ASSETGW_API_PORT,
            metrics_port=env.ASSETGW_METRICS_PORT,
            simulator_urls={kind: _simulator_url(kind, env.ASSETGW_SIM_HOST) for kind in KINDS},
            institution_urls={i.id: url for i in directory.institutions if (url := os.environ.get(institution_url_variable(i.id)))},
            inquiry_deadline_s=env.ASSETGW_INQUIRY_DEADLINE,
            order_deadline_s=env.ASSETGW_ORDER_DEADLINE,
            resend_after_s=env.ASSETGW_RESEND_AFTER,
            call_timeout_s=env.ASSETGW_CALL_TIMEOUT,
            call_attempts=env.ASSETGW_CALL_ATTEMPTS,
            max_inflight_per_institution=env.ASSETGW_MAX_INFLIGHT_PER_INSTITUTION,
            breaker_failures=env.ASSETGW_BREAKER_FAILURES,
            breaker_cool_down_s=env.ASSETGW_BREAKER_COOLDOWN,
            max_inflight=env.ASSETGW_MAX_INFLIGHT,
            max_inflight_legs=env.ASSETGW_MAX_INFLIGHT_LEGS,
            legs_per_message=env.ASSETGW_LEGS_PER_MESSAGE,
            result_linger_s=env.ASSETGW_RESULT_LINGER_MS / 1000,
            rate_limit_per_s=env.ASSETGW_RATE_LIMIT,
            rate_limit_burst=env.ASSETGW_RATE_BURST,
            anon_rate_limit_per_s=env.ASSETGW_ANON_RATE_LIMIT,
            anon_rate_limit_burst=env.ASSETGW_ANON_RATE_BURST,
            header_timeout_s=env.ASSETGW_HEADER_TIMEOUT,
            body_timeout_s=env.ASSETGW_BODY_TIMEOUT,
            living_allowance_fen=env.ASSETGW_LIVING_ALLOWANCE_FEN,
            console_demo=tuple(c for c in env.ASSETGW_CONSOLE_DEMO.split(",") if c),
            reconcile_every_s=env.ASSETGW_RECONCILE_EVERY,
            topic_retention_s=env.ASSETGW_TOPIC_RETENTION,
            store=env.ASSETGW_STORE,
            database_url=env.ASSETGW_DATABASE_URL,
            log_level=env.ASSETGW_LOG_LEVEL,
            directory=directory,
            polling_interval_s=polling_s,
        )

    def polling_allowance_s(self, institution: Institution) -> float:
        """What a call to the institution may take on top of a call's time: a polling bank answers
        at its next poll and its answer file is collected a moment later, so two polling intervals."""
        return 2 * self.polling_interval_s if institution.polls else 0.0

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"
