"""A stack on free ports is found without flags, and tells ops what goes wrong: ``assetgw up
--ports free`` writes every endpoint to DATA_DIR/endpoints.json; the commands read it (explicit
variables still win); their tables fit 80 columns with identifiers whole; a bank failing every
call is a warning in the connector's log, with its error, collapsed rather than repeated, next to
one summary line per leg message. One real ``assetgw up``, driven as ops would."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from assetgw import endpoints
from assetgw.stack.supervisor import registered_kinds
from schemas.directory import KINDS, QUERY_KINDS
from tests.conftest import ENGINE
from tests.helpers import CliProcess, UpProcess, metric_total, wait_for

# What a fresh shell has: none of the variables that would name the stack.
NAMING = ("KAFKA_BOOTSTRAP", "ASSETGW_API", "ASSETGW_TOPIC_PREFIX", *(f"ASSETGW_SIM_URL_{k.upper()}" for k in KINDS))


def _shell(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in NAMING}, "ASSETGW_DATA_DIR": str(data_dir), "COLUMNS": "80", **extra}


async def _run(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, str, str]:
    process = await CliProcess.start(*args, env=env)
    out = await process.proc.stdout.read()  # type: ignore[union-attr]
    code = await process.finished(timeout)
    return code, out.decode(), process.err


def _fits(text: str, width: int = 80) -> None:
    assert max((len(line) for line in text.splitlines()), default=0) <= width, text


@pytest.fixture(scope="module")
async def up(tmp_path_factory: pytest.TempPathFactory) -> Any:
    process = UpProcess(tmp_path_factory.mktemp("up") / "data", "--engine", ENGINE, "--latency", "1:10", "--activity", "0",
                        env={"ASSETGW_CALL_TIMEOUT": "1", "ASSETGW_INQUIRY_DEADLINE": "60", "ASSETGW_LEGS_PER_MESSAGE": "2"})
    try:
        await process.started()
        yield process
    finally:
        process.stop()


@pytest.mark.isolated  # its own stack, not the shared one
async def test_up_writes_every_endpoint_and_each_answers(up) -> None:  # type: ignore[no-untyped-def]
    found = endpoints.read(up.data_dir)
    assert found is not None and set(found["simulators"]) == set(KINDS) and set(found["connector_metrics"]) == set(registered_kinds())
    async with aiohttp.ClientSession() as http:
        for url in [found["api"] + "/healthz", *(u + "/healthz" for u in found["simulators"].values()),
                    *found["connector_metrics"].values()]:
            async with http.get(url) as r:
                assert r.status == 200, url
    printed = "\n".join(up.lines)
    for url in (found["api"], found["kafka_bootstrap"], *found["simulators"].values(), *found["connector_metrics"].values()):
        assert url in printed, f"assetgw up did not print {url}"
    assert found["started_at"].endswith("+08:00")


@pytest.fixture(scope="module")
async def debtors(up, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("debtors") / "d.csv"
    code, _, err = await _run(_shell(up.data_dir), "debtors", "--count", "20", "--out", str(out))
    assert code == 0, err
    return out


@pytest.mark.isolated
async def test_commands_find_the_stack_without_flags_and_fit_80_columns(up, debtors: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = _shell(up.data_dir, ASSETGW_TOKEN=up.token())
    code, _, err = await _run(env, "inquire", "--csv", str(debtors), "--out", str(tmp_path / "r.jsonl"))
    assert code == 0 and len((tmp_path / "r.jsonl").read_text().splitlines()) == 20, err

    code, out, err = await _run(env, "topics")
    assert code == 0 and "assetgw.inquiry.legs.vehicle" in out and "inquiry.legs.result" in out, err
    _fits(out)

    code, out, err = await _run(env, "lag")
    assert code == 0 and "not reachable" not in out, out + err  # the API, found through the file
    for kind in QUERY_KINDS:  # each connector group whole, told apart (lodging has no legs: no committed offsets)
        assert f"assetgw.connector.{kind}" in out
    _fits(out)

    # An explicit variable wins over the file.
    code, out, _ = await _run({**env, "ASSETGW_API": "http://127.0.0.1:9"}, "lag", "--json")
    assert code == 0 and orjson.loads(out)["pending_legs"] is None
    # Another data directory has no running stack: nothing is taken from this one.
    code, _, err = await _run(_shell(tmp_path / "elsewhere", KAFKA_BOOTSTRAP="127.0.0.1:9"), "topics", timeout=60)
    assert code == 1 and "127.0.0.1:9" in err


@pytest.mark.isolated
async def test_a_failing_bank_is_a_warning_with_its_error_not_a_flood(up, debtors: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = _shell(up.data_dir, ASSETGW_TOKEN=up.token())
    code, _, err = await _run(env, "simulator-fault", "bank-05", "--error-rate", "1", "--error-status", "500")
    assert code == 0, err
    log = up.data_dir / "logs" / "connector-bank.log"
    before = len(log.read_text().splitlines())
    try:
        code, _, err = await _run(env, "inquire", "--csv", str(debtors), "--out", str(tmp_path / "r.jsonl"))
        assert code == 0, err

        def lines() -> list[dict[str, Any]]:
            return [orjson.loads(line) for line in log.read_text().splitlines()[before:] if line.startswith("{")]

        warnings = await wait_for(lambda: _async([e for e in lines() if e.get("institution") == "bank-05"
                                                   and e["event"].startswith("institution failing")]), 30,
                                  what="a warning about bank-05")
        assert "bank-05 answered HTTP 500" in warnings[0]["error"], warnings[0]
        summaries = [e for e in lines() if e["event"] == "legs answered"]
        assert len(summaries) >= 10 and sum(e.get("failed", 0) for e in summaries) >= 10  # 20 debtors, 2 legs a message
        async with aiohttp.ClientSession() as http, http.get(up.endpoints["connector_metrics"]["bank"]) as r:
            retries = metric_total(await r.text(), "assetgw_institution_retries_total", 'institution="bank-05"')
        # Collapsed: one line per cause per 30 s (infra/log_repeats.py), however many calls failed.
        span_s = (datetime.fromisoformat(warnings[-1]["timestamp"]) - datetime.fromisoformat(warnings[0]["timestamp"])).total_seconds()
        assert len(warnings) <= 2 + span_s / 30 and len(warnings) < retries, (len(warnings), span_s, retries)
        ids = [row.split(",")[7] for row in debtors.read_text().splitlines()[1:]]
        assert not [i for i in ids if i in log.read_text()], "a debtor's id number in the clear in the log"
    finally:
        await _run(env, "simulator-fault", "bank-05", "--reset-behaviour")


async def _async(value: Any) -> Any:
    return value or None


@pytest.mark.isolated
async def test_the_file_goes_with_the_stack(up) -> None:  # type: ignore[no-untyped-def]
    """Last: stops the module's stack."""
    up.stop()
    assert endpoints.read(up.data_dir) is None and not endpoints.path_in(up.data_dir).exists()
