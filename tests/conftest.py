"""Fixtures: real stacks — embedded broker, simulators, connector workers and gateway as separate
processes — reached only through the Kafka protocol and HTTP.

Most tests share one stack for the session. A test marked ``isolated`` (it kills or restarts
processes, or moves the simulators' clock) gets its module's own stack instead — own ports, data
directory, broker and topic prefix — made whole again after every test, so a crash test that fails
half-way cannot take the shared stack, or the next crash test, down with it. The ``stack``, ``api``,
``officers`` and ``simulators`` fixtures follow the marker."""

from __future__ import annotations

import os
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from assetgw.stack.supervisor import Stack, free_port
from infra.kafka.broker import EmbeddedBroker
from simulators.population import Population
from tests.helpers import ALL_ROLES, CASE, LIVING_ALLOWANCE_FEN, SEED, Simulators, officer_session

ENGINE = os.environ.get("ASSETGW_TEST_ENGINE", "noida")
# Small population keeps each process's start-up quick; the rules and skew are the same.
PERSONS, COMPANIES = 3000, 300
POLLING_INTERVAL_S = 0.5
INQUIRY_DEADLINE_S = 120  # tests of deadlines set their own; bulk tests must not race a loaded machine


def _postgres_dir() -> Path:
    """Outside pytest's base directory: pytest makes that private (0700) again whenever a session
    starts, which would cut the server's own user (pgserver runs it as ``pgserver`` under root)
    off from its data."""
    return Path(tempfile.mkdtemp(prefix="assetgw-test-pg-"))


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One PostgreSQL server (pgserver, from PyPI) for the session; tests take databases of it."""
    from assetgw.stack.postgres import database_url, start_postgres
    from gateway.store.factory import open_store

    server = start_postgres(_postgres_dir(), cleanup_mode="delete")
    open_store(database_url(server, PG_TEMPLATE)).close()  # the schema, made once and copied for each test
    return server


PG_TEMPLATE = "assetgw_template"


@pytest.fixture
def postgres_database(postgres_server: Any) -> str:
    """The URL of a fresh database of its own for one test, with the store's tables."""
    from assetgw.stack.postgres import database_url

    return database_url(postgres_server, f"t_{uuid.uuid4().hex[:16]}", template=PG_TEMPLATE)


@pytest.fixture
async def broker_bootstrap(tmp_path: Path) -> AsyncIterator[str]:
    """A broker of the test's own (the cluster at KAFKA_BOOTSTRAP, if set), for tests of the Kafka layer."""
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    broker = EmbeddedBroker(ENGINE, port=free_port(), data_dir=tmp_path / "broker")
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def population() -> Population:
    return Population.generate(seed=SEED, persons=PERSONS, companies=COMPANIES)


@pytest.fixture(scope="session")
def credential(population: Population) -> str:
    return population.officer_credentials[0]


def _new_stack(data_dir: Path, topic_prefix: str, **stack_args: Any) -> Stack:
    return Stack(
        data_dir,
        **stack_args,
        engine=ENGINE,
        kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP"),
        ports="free",
        env={
            "ASSETGW_TOPIC_PREFIX": topic_prefix,
            "ASSETGW_INQUIRY_DEADLINE": str(INQUIRY_DEADLINE_S),
            "ASSETGW_CALL_TIMEOUT": "2",
            "ASSETGW_RESEND_AFTER": "15",
            "ASSETGW_PARTITIONS": "4",
            # Small leg messages, so a few hundred debtors make many messages (crash and shutdown
            # tests need work in flight) while a batch still spans several per institution.
            "ASSETGW_LEGS_PER_MESSAGE": "25",
            # Bulk tests post orders as fast as they can; the rate limit itself has its own test.
            "ASSETGW_RATE_LIMIT": "5000",
            "ASSETGW_RATE_BURST": "10000",
            # Small, so tests may freeze modest balances; the rule itself has its own tests.
            "ASSETGW_LIVING_ALLOWANCE_FEN": str(LIVING_ALLOWANCE_FEN),
            # The last 6 banks poll the file exchange (the default); quickly, so tests need not wait.
            "ASSETGW_POLLING_INTERVAL": str(POLLING_INTERVAL_S),
        },
        simulator_args=["--seed", str(SEED), "--persons", str(PERSONS), "--companies", str(COMPANIES), "--latency", "1:10"],
    )


async def _running(data_dir: Path, topic_prefix: str, **stack_args: Any) -> AsyncIterator[Stack]:
    stack = _new_stack(data_dir, topic_prefix, **stack_args)
    try:
        await stack.start(timeout=120)
        yield stack
    finally:
        await stack.stop()


@pytest.fixture(scope="session")
async def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async for stack in _running(tmp_path_factory.mktemp("stack"), f"test{int(time.time())}"):
        yield stack


@pytest.fixture(scope="module")
async def module_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The module's own stack for its ``isolated`` tests; started only if the module has one."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    async for stack in _running(tmp_path_factory.mktemp(f"stack-{name}"), f"iso{int(time.time())}-{name}"):
        yield stack


@pytest.fixture(scope="module")
async def postgres_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The module's own stack with two gateway instances sharing a PostgreSQL store (pgserver)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    async for stack in _running(tmp_path_factory.mktemp(f"stack-{name}"), f"pg{int(time.time())}-{name}", store="postgres", gateways=2,
                              postgres_dir=_postgres_dir()):
        yield stack


@pytest.fixture
async def isolated_stack(module_stack: Stack) -> AsyncIterator[Stack]:
    """The module's own stack; after the test, whatever it killed, restarted or reconfigured is
    put back, so one failed crash test does not fail the next."""
    env = dict(module_stack.env)
    service_env = {name: dict(s.env) for name, s in module_stack.services.items()}
    yield module_stack
    if module_stack.broker is not None and module_stack.broker.process is None:  # killed, not started again
        module_stack.broker.start()
    reconfigured = module_stack.env != env
    module_stack.env.clear()
    module_stack.env.update(env)
    for name, service in module_stack.services.items():
        if reconfigured or service.env != service_env[name]:
            service.env = service_env[name]
            module_stack.kill(name, signal.SIGTERM)
        if service.process is None or service.process.poll() is not None:
            await module_stack.restart(name)
        await module_stack.wait_healthy(name)


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Stack:
    """The stack under test: the module's own for an ``isolated`` test, else the shared one."""
    isolated = request.node.get_closest_marker("isolated") is not None
    return request.getfixturevalue("isolated_stack" if isolated else "shared_stack")


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    """Officer OFFICER-A1 of the court that holds CASE, with every role."""
    async with officer_session(stack, "OFFICER-A1", CASE["court"]) as session:
        yield session


@pytest.fixture
async def officers(stack: Stack) -> AsyncIterator[Any]:
    """``officers(officer_id, court, roles=...)``: an API session acting as that officer."""
    sessions: dict[tuple, aiohttp.ClientSession] = {}

    def session(officer: str, court: str, roles: tuple[str, ...] = ALL_ROLES) -> aiohttp.ClientSession:
        key = (officer, court, roles)
        if key not in sessions:
            sessions[key] = officer_session(stack, officer, court, roles)
        return sessions[key]

    yield session
    for s in sessions.values():
        await s.close()


@pytest.fixture
async def simulators(stack: Stack) -> AsyncIterator[Simulators]:
    async with aiohttp.ClientSession() as session:
        yield Simulators(stack, session)
