"""Runs the whole stack as one process tree: broker, simulators, connector workers, gateway.

Used by ``assetgw up`` and by the integration tests, which also use it to kill and restart single
components. Every child runs in its own session (Ctrl-C reaches only us, and we stop children in
order) and asks the kernel to SIGTERM it if we die, so nothing outlives the tree.

The data directory is private (0700, files 0600, children under umask 077: it holds personal
data), and each child gets only the secrets it needs: the gateway the token secret, the connectors
and simulators the partner keys, the broker none — a compromised simulator cannot mint tokens.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import aiohttp

from assetgw.endpoints import describe
from connectors.contract.registry import GROUP as CONNECTOR_GROUP
from infra.clock import now_ms
from infra.kafka.broker import EmbeddedBroker
from infra.kafka.topics import ensure_topics
from infra.processes import make_private, open_private_log, private_child
from schemas import ports as default_ports
from schemas.directory import KINDS

TOKEN_SECRET = ("ASSETGW_TOKEN_SECRET", "ASSETGW_TOKEN_SECRET_FILE")
PARTNER_KEYS = ("ASSETGW_PARTNER_MASTER_KEY", "ASSETGW_PARTNER_KEYS_FILE")
SECRET_VARIABLES = TOKEN_SECRET + PARTNER_KEYS


def without_secrets(env: dict[str, str], keep: tuple[str, ...] = ()) -> dict[str, str]:
    """``env`` less every secret variable not in ``keep``."""
    return {k: v for k, v in env.items() if k in keep or k not in SECRET_VARIABLES}


def _secret(path: Path) -> str:
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


class StackError(RuntimeError):
    """A component failed to start or to become healthy; the message says where its log is."""


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range: a port the kernel hands out (bind to 0)
    may be taken as the local end of an outgoing connection before our child binds it (seen: a
    connector's metrics port, "address already in use"); ports below the range never are."""
    low = _ephemeral_low()
    while True:
        port = random.randrange(low - 12_000, low) if low > 13_024 else 0  # no room below: the kernel's pick
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # someone listens there: another try
                continue
            return s.getsockname()[1]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


@dataclass
class Service:
    name: str
    argv: list[str]
    health_urls: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # the secret variables this child may see (SECRET_VARIABLES)
    process: subprocess.Popen[bytes] | None = None


def registered_kinds() -> tuple[str, ...]:
    """The directory's kinds that have a connector plug-in installed: one worker each. A kind whose
    plug-in is not (yet) installed has no worker rather than one that cannot start."""
    names = {ep.name for ep in entry_points(group=CONNECTOR_GROUP)}
    return tuple(k for k in KINDS if k in names)


class Stack:
    def __init__(
        self,
        data_dir: Path,
        *,
        engine: str = "noida",
        kafka_bootstrap: str | None = None,
        ports: str = "default",
        env: dict[str, str] | None = None,
        simulator_args: list[str] | None = None,
        connector_kinds: tuple[str, ...] | None = None,
        store: str = "sqlite",
        gateways: int = 1,
        postgres_dir: Path | None = None,
    ) -> None:
        if gateways > 1 and store != "postgres":
            raise ValueError("several gateways need a store they can share: --store postgres")
        self.data_dir = data_dir.resolve()
        self.store = store
        self.postgres_dir = postgres_dir or self.data_dir / "postgres"  # pgserver's data, unless ASSETGW_DATABASE_URL is given
        self.logs = self.data_dir / "logs"
        self.engine = engine
        pick = free_port if ports == "free" else None
        # Gateway instances on consecutive ports from the API port (free ones in tests), each a
        # whole API: a client or a load balancer may use any of them.
        self.api_ports = [pick() if pick else default_ports.API + i for i in range(gateways)]
        self.api_port = self.api_ports[0]
        self.postgres = None  # the PostgreSQL server (pgserver) when store == "postgres" and no URL was given
        self.sim_ports = {k: pick() if pick else p for k, p in default_ports.SIMULATORS.items()}
        self.exchange_ports = (pick(), pick()) if pick else (default_ports.EXCHANGE, default_ports.EXCHANGE_HEALTH)
        self.broker: EmbeddedBroker | None = None
        if kafka_bootstrap is None:
            self.broker = EmbeddedBroker(engine, port=pick() if pick else default_ports.BROKER, data_dir=self.data_dir / "broker",
                                         env=without_secrets(dict(os.environ)))
            kafka_bootstrap = self.broker.bootstrap
        self.kafka_bootstrap = kafka_bootstrap
        make_private(self.data_dir)
        self.env = {
            **os.environ,
            # Secrets for this deployment: from the environment if given, else made once and kept
            # in the data directory (mode 600), never in the code.
            "ASSETGW_TOKEN_SECRET": os.environ.get("ASSETGW_TOKEN_SECRET") or _secret(self.data_dir / "token.secret"),
            "ASSETGW_PARTNER_MASTER_KEY": os.environ.get("ASSETGW_PARTNER_MASTER_KEY") or _secret(self.data_dir / "partner.key"),
            "KAFKA_BOOTSTRAP": kafka_bootstrap,
            "ASSETGW_DATA_DIR": str(self.data_dir),
            "ASSETGW_API_PORT": str(self.api_port),
            **{f"ASSETGW_SIM_URL_{k.upper()}": f"http://127.0.0.1:{p}" for k, p in self.sim_ports.items()},
            "ASSETGW_EXCHANGE": f"127.0.0.1:{self.exchange_ports[0]}",
            **({"ASSETGW_KAFKA_IDEMPOTENCE": "0"} if engine == "tansu" and self.broker else {}),
            **(env or {}),
        }
        self.metrics_ports: dict[str, int] = {}
        self.started_ms = now_ms()
        ports_arg = ",".join(f"{k}={p}" for k, p in self.sim_ports.items())
        self.services: dict[str, Service] = {
            # The network's SFTP server, for the banks that poll for work (infra/exchange.py).
            "exchange": Service("exchange", ["exchange", "--port", str(self.exchange_ports[0]),
                                             "--health-port", str(self.exchange_ports[1])],
                                [f"http://127.0.0.1:{self.exchange_ports[1]}/healthz"], secrets=PARTNER_KEYS),
            "simulator": Service("simulator", ["simulator", "--ports", ports_arg, *(simulator_args or [])],
                                 [f"http://127.0.0.1:{p}/healthz" for p in self.sim_ports.values()], secrets=PARTNER_KEYS),
            **{f"connector-{k}": self._connector(k, pick) for k in (connector_kinds or registered_kinds())},
            **{name: Service(name, ["gateway"], [f"http://127.0.0.1:{port}/healthz"], secrets=TOKEN_SECRET,
                             env={"ASSETGW_API_PORT": str(port), "ASSETGW_INSTANCE": f"{socket.gethostname()}-gw{i}"})
               for i, (name, port) in enumerate(zip(self.gateway_names, self.api_ports, strict=True))},
        }

    def _connector(self, kind: str, pick) -> Service:  # type: ignore[no-untyped-def]

        port = pick() if pick else default_ports.CONNECTOR_METRICS[kind]
        self.metrics_ports[kind] = port
        return Service(f"connector-{kind}", ["connector", "--kind", kind], [f"http://127.0.0.1:{port}/healthz"],
                       env={"ASSETGW_METRICS_PORT": str(port)}, secrets=PARTNER_KEYS)

    def token(self, officer: str, court: str, court_code: str, roles: list[str], ttl_s: float = 8 * 3600,
              credentials: Iterable[str] = ()) -> str:
        """A bearer token for this stack's gateway (demo and tests); ``credentials`` are the 执行公务证
        numbers registered to the officer, the only ones he may present."""
        from gateway.http.auth import TokenAuthority

        return TokenAuthority(self.env["ASSETGW_TOKEN_SECRET"].encode()).issue(officer, court, court_code, roles, ttl_s,
                                                                                credentials)

    @property
    def gateway_names(self) -> list[str]:
        """``gateway``, then ``gateway-2``, ``gateway-3`` …"""
        return ["gateway", *(f"gateway-{i}" for i in range(2, len(self.api_ports) + 1))]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.api_ports]

    async def start_postgres(self) -> None:
        """The PostgreSQL server from PyPI in ``DATA_DIR/postgres``, unless ASSETGW_DATABASE_URL names one."""
        if self.env.get("ASSETGW_DATABASE_URL"):
            return
        from assetgw.stack.postgres import database_url, start_postgres

        temporary = self.postgres_dir != self.data_dir / "postgres"
        self.postgres = await asyncio.to_thread(start_postgres, self.postgres_dir, "delete" if temporary else "stop")
        self.env["ASSETGW_DATABASE_URL"] = await asyncio.to_thread(database_url, self.postgres)
    def endpoints(self) -> dict[str, Any]:
        """Every endpoint of this stack, as ``assetgw.endpoints`` writes them for the commands."""
        return describe(api=self.api_url, kafka_bootstrap=self.kafka_bootstrap,
                        topic_prefix=self.env.get("ASSETGW_TOPIC_PREFIX", "assetgw"),
                        simulators={k: f"http://127.0.0.1:{p}" for k, p in self.sim_ports.items()},
                        connector_metrics={k: f"http://127.0.0.1:{p}/metrics" for k, p in self.metrics_ports.items()},
                        data_dir=self.data_dir, started_ms=self.started_ms)

    async def start(self, timeout: float = 60.0) -> None:
        self.started_ms = now_ms()
        make_private(self.logs)
        if self.store == "postgres":
            self.env["ASSETGW_STORE"] = "postgres"
            await self.start_postgres()
        if self.broker:
            await self.start_broker()
        else:
            await self._ensure_topics()
        for name in self.services:
            self.spawn(name)
        for name in self.services:
            await self.wait_healthy(name, timeout)

    async def start_broker(self) -> None:
        """Start the embedded broker (again, after a crash: noida-db on the same data) and create any
        topic it lacks (Tansu keeps nothing across a restart)."""
        assert self.broker is not None
        await asyncio.to_thread(self.broker.start)
        await self._ensure_topics()

    async def _ensure_topics(self) -> None:
        partitions = int(self.env.get("ASSETGW_PARTITIONS", "4"))
        await ensure_topics(self.kafka_bootstrap, self.env.get("ASSETGW_TOPIC_PREFIX", "assetgw"), partitions,
                            int(self.env.get("ASSETGW_TOPIC_RETENTION") or 0))

    def spawn(self, name: str) -> None:
        service = self.services[name]
        log = open_private_log(self.logs / f"{name}.log")  # the child writes to it; closed once handed over
        service.process = subprocess.Popen(
            [sys.executable, "-m", "assetgw.cli", *service.argv],
            env=without_secrets({**self.env, **service.env}, service.secrets), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=private_child,
        )
        os.close(log)

    async def wait_healthy(self, name: str, timeout: float = 60.0) -> None:
        service = self.services[name]
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            for url in service.health_urls:
                while True:
                    if service.process is None or service.process.poll() is not None:
                        raise StackError(f"{name} exited; see {self.logs / (name + '.log')}")
                    try:
                        async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                            if r.status == 200:
                                break
                    except (TimeoutError, aiohttp.ClientError):
                        pass
                    if time.monotonic() > deadline:
                        raise StackError(f"{name} not healthy at {url} within {timeout:.0f}s; see {self.logs / (name + '.log')}")
                    await asyncio.sleep(0.1)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.services[name].process
        if process is not None and process.poll() is None:
            os.kill(process.pid, sig)
            process.wait()

    async def restart(self, name: str, timeout: float = 60.0) -> None:
        self.spawn(name)
        await self.wait_healthy(name, timeout)

    async def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to every service (each stops fetching, finishes or hands back its work and
        commits), and the broker only once they are all gone."""
        for name in reversed(list(self.services)):
            process = self.services[name].process
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name in reversed(list(self.services)):
            process = self.services[name].process
            if process is None:
                continue
            try:
                await asyncio.to_thread(process.wait, grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.broker:
            self.broker.stop()
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.cleanup)
