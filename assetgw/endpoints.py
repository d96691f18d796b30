"""Where a running stack listens: ``assetgw up`` writes every endpoint to ``DATA_DIR/endpoints.json``
and every client command reads it, so a stack on free ports (``assetgw up --ports free``) is found
without flags. What the environment or a flag says still wins (``ASSETGW_API``, ``KAFKA_BOOTSTRAP``,
``ASSETGW_SIM_URL_{KIND}``, ``--api``): the file only fills in what is not set. A file whose stack
has stopped (its ``assetgw up`` process is gone) is ignored."""

from __future__ import annotations

import contextlib
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import orjson

from infra.clock import shown

FILE = "endpoints.json"
DATA_DIR = "ASSETGW_DATA_DIR"
DEFAULT_DATA_DIR = ".assetgw"


def path_in(data_dir: Path) -> Path:
    return data_dir / FILE


def describe(*, api: str, kafka_bootstrap: str, topic_prefix: str, simulators: dict[str, str],
             connector_metrics: dict[str, str], data_dir: Path, started_ms: int) -> dict[str, Any]:
    return {
        "api": api, "gateway_metrics": f"{api}/metrics", "kafka_bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix,
        "simulators": simulators, "connector_metrics": connector_metrics, "data_dir": str(data_dir),
        "logs": str(data_dir / "logs"), "pid": os.getpid(), "started_at": shown(started_ms),
    }


def write(data_dir: Path, endpoints: dict[str, Any]) -> Path:
    path, draft = path_in(data_dir), path_in(data_dir).with_suffix(".tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # in the private data directory, private too
    with os.fdopen(fd, "wb") as out:
        out.write(orjson.dumps(endpoints, option=orjson.OPT_INDENT_2) + b"\n")
    draft.replace(path)  # whole or not at all: a command reading it meanwhile sees the old one or the new
    return path


def remove(data_dir: Path) -> None:
    """On the way out: only this process's own file (a second stack may have written since)."""
    path = path_in(data_dir)
    with contextlib.suppress(OSError, orjson.JSONDecodeError):
        if orjson.loads(path.read_bytes()).get("pid") == os.getpid():
            path.unlink()


def read(data_dir: Path) -> dict[str, Any] | None:
    """The endpoints of the stack running from ``data_dir``, or None (no file, or its stack is gone)."""
    try:
        endpoints = orjson.loads(path_in(data_dir).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(endpoints, dict) or not _alive(endpoints.get("pid")):
        return None
    return endpoints


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def as_environment(endpoints: dict[str, Any]) -> dict[str, str]:
    """The variables the commands read, as the file gives them."""
    env = {"ASSETGW_API": endpoints.get("api"), "KAFKA_BOOTSTRAP": endpoints.get("kafka_bootstrap"),
           "ASSETGW_TOPIC_PREFIX": endpoints.get("topic_prefix")}
    for kind, url in (endpoints.get("simulators") or {}).items():
        env[f"ASSETGW_SIM_URL_{kind.upper()}"] = url
    return {k: v for k, v in env.items() if isinstance(v, str) and v}


def fill_environment(env: MutableMapping[str, str] | None = None) -> dict[str, Any] | None:
    """Set what the running stack's file says, where the environment says nothing; returns the
    endpoints used (None when there is no running stack's file)."""
    env = os.environ if env is None else env
    endpoints = read(Path(env.get(DATA_DIR) or DEFAULT_DATA_DIR))
    if endpoints is not None:
        for name, value in as_environment(endpoints).items():
            if not env.get(name):
                env[name] = value
    return endpoints


def lines(endpoints: dict[str, Any]) -> list[str]:
    """For a person: one endpoint a line, short enough for 80 columns."""
    out = [f"API        {endpoints['api']}  (metrics {endpoints['gateway_metrics']}, ops token)",
           f"broker     {endpoints['kafka_bootstrap']}  (topics {endpoints['topic_prefix']}.*)"]
    out += [f"simulator  {kind:<8} {url}" for kind, url in endpoints["simulators"].items()]
    out += [f"metrics    {kind:<8} {url}" for kind, url in endpoints["connector_metrics"].items()]
    return out
