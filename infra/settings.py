"""Settings for every component, read from the environment so one process tree (``assetgw up``),
docker-compose and the tests configure the same way."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from schemas import ports
from schemas.directory import KINDS, Directory



def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None or value == "" else value.lower() in ("1", "true", "yes", "on")


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
    directory: Directory = field(compare=False)

    @classmethod
    def from_env(cls) -> "Settings":
        sim_host = _env("ASSETGW_SIM_HOST", "127.0.0.1")
        return cls(
            kafka_bootstrap=_env("KAFKA_BOOTSTRAP", f"127.0.0.1:{ports.BROKER}"),
            # Tansu has no idempotent producer; `assetgw up --engine tansu` turns this off.
            kafka_idempotence=_flag("ASSETGW_KAFKA_IDEMPOTENCE", True),
            # Names this process among its peers (static group membership); unique per process.
            instance=_env("ASSETGW_INSTANCE", f"{socket.gethostname()}-0"),
            topic_prefix=_env("ASSETGW_TOPIC_PREFIX", "assetgw"),
            partitions=int(_env("ASSETGW_PARTITIONS", "4")),
            data_dir=Path(_env("ASSETGW_DATA_DIR", ".assetgw")),
            api_host=_env("ASSETGW_API_HOST", "127.0.0.1"),
            api_port=int(_env("ASSETGW_API_PORT", str(ports.API))),
            # Connector workers' /metrics; 0 picks the default port of the worker's kind.
            metrics_port=int(_env("ASSETGW_METRICS_PORT", "0")),
            simulator_urls={
                kind: _env(f"ASSETGW_SIM_URL_{kind.upper()}", f"http://{sim_host}:{ports.SIMULATORS[kind]}")
                for kind in KINDS
            },
            inquiry_deadline_s=float(_env("ASSETGW_INQUIRY_DEADLINE", "600")),
            # Freezes are reported done within 2 days; an order unanswered by then is failed.
            order_deadline_s=float(_env("ASSETGW_ORDER_DEADLINE", str(2 * 24 * 3600))),
            # Longer than a connector's worst case (attempts x call timeout + backoff), so a re-send
            # only happens when the work or its answer was lost.
            resend_after_s=float(_env("ASSETGW_RESEND_AFTER", "120")),
            call_timeout_s=float(_env("ASSETGW_CALL_TIMEOUT", "10")),
            call_attempts=int(_env("ASSETGW_CALL_ATTEMPTS", "4")),
            breaker_failures=int(_env("ASSETGW_BREAKER_FAILURES", "5")),
            breaker_cool_down_s=float(_env("ASSETGW_BREAKER_COOLDOWN", "5")),
            max_inflight_per_institution=int(_env("ASSETGW_MAX_INFLIGHT_PER_INSTITUTION", "16")),
            max_inflight=int(_env("ASSETGW_MAX_INFLIGHT", "512")),  # messages a worker handles at once
            # Legs a worker holds at once, over all its messages: bounds its memory in a bulk run.
            max_inflight_legs=int(_env("ASSETGW_MAX_INFLIGHT_LEGS", "10000")),
            # Legs of one inquiry and institution kind the gateway puts in one message.
            legs_per_message=int(_env("ASSETGW_LEGS_PER_MESSAGE", "200")),
            # How long a worker holds a message's early answers for more to go out with them; the
            # last answer never waits. Fewer, larger result messages cost the gateway much less.
            result_linger_s=float(_env("ASSETGW_RESULT_LINGER_MS", "50")) / 1000,
            rate_limit_per_s=float(_env("ASSETGW_RATE_LIMIT", "200")),
            rate_limit_burst=float(_env("ASSETGW_RATE_BURST", "400")),
            directory=Directory.from_env(),
        )

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"
