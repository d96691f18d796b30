"""docker-compose.yml, read as data (no Docker engine on CI): the properties a re-created or
restarted deployment depends on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from assetgw.stack.supervisor import registered_kinds
from schemas.ports import SIMULATORS

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _consumers(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if name.startswith(("gateway", "connector-"))}


def test_kafka_keeps_its_log_in_its_volume(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in kafka["volumes"]}
    assert log_dirs in mounts, f"KAFKA_LOG_DIRS={log_dirs} is not a mounted volume ({mounts})"


def test_connectors_wait_for_the_simulators_health(services: dict[str, Any]) -> None:
    check = " ".join(services["simulator"]["healthcheck"]["test"])
    missing = [kind for kind, port in SIMULATORS.items() if str(port) not in check]
    assert not missing, f"the simulator's healthcheck does not ask {missing}"
    env = services["gateway"]["environment"]
    assert {k: env.get(f"ASSETGW_SIM_URL_{k.upper()}") for k in SIMULATORS} == {k: f"http://simulator:{p}" for k, p in SIMULATORS.items()}
    connectors = {n: s for n, s in services.items() if n.startswith("connector-")}
    assert set(connectors) == {f"connector-{k}" for k in registered_kinds()}, "one connector service per plug-in"
    for name, service in connectors.items():
        assert service["depends_on"]["simulator"] == {"condition": "service_healthy"}, name
        assert service["depends_on"]["kafka"] == {"condition": "service_healthy"}, name


def test_every_consumer_has_a_static_instance_id_of_its_own(services: dict[str, Any]) -> None:
    """The default ASSETGW_INSTANCE is the hostname, which changes with every re-created container."""
    ids = {name: (s.get("environment") or {}).get("ASSETGW_INSTANCE") for name, s in _consumers(services).items()}
    assert all(ids.values()), f"services without ASSETGW_INSTANCE: {[n for n, i in ids.items() if not i]}"
    assert len(set(ids.values())) == len(ids), f"instance ids repeat: {ids}"
