"""Surviving crashes from the operator's and the officer's side: ``assetgw up`` restarts a broker
killed under a running batch (and reaps it), ``/healthz`` says when Kafka is out of reach, repeated
log lines collapse, and ``assetgw inquire`` rides out a gateway restart, re-attaches with
``--batch``, never makes a second batch of one request, and fails in one line when nothing answers."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import orjson
import pytest
import structlog

from assetgw.stack.supervisor import free_port
from infra.log_repeats import RepeatFilter, Repeats, structlog_processor
from tests.helpers import (
    CASE,
    CliProcess,
    Simulators,
    UpProcess,
    assert_matches_truth,
    bulk_debtors,
    debtor_json,
    get_json,
    officer_token,
    post_batch,
    read_reports,
    wait_for,
)

ENGINE = os.environ.get("ASSETGW_TEST_ENGINE", "noida")
BINARY = {"noida": "noida-db", "tansu": "tansu"}


async def _progress(api: aiohttp.ClientSession, batch_id: str) -> dict:
    return await get_json(api, f"/v1/inquiry-batches/{batch_id}")


@pytest.mark.isolated
@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP")), reason="KAFKA_BOOTSTRAP is set: no embedded broker to kill")
async def test_up_restarts_a_broker_killed_mid_batch_and_the_batch_finishes(tmp_path: Path) -> None:
    """kill -9 of the embedded broker a moment into a 300-debtor batch run by ``assetgw inquire``
    against a real ``assetgw up``: the broker is reaped and restarted on its data, the legs move
    again, the command writes every report, each equal to the ground truth."""
    up = UpProcess(tmp_path / "up", "--engine", ENGINE, "--latency", "1:10", "--activity", "0",
                   env={"ASSETGW_RESEND_AFTER": "15", "ASSETGW_LEGS_PER_MESSAGE": "25", "ASSETGW_INQUIRY_DEADLINE": "300"})
    inquire = None
    try:
        await up.started()
        debtors, out = tmp_path / "debtors.csv", tmp_path / "reports.jsonl"
        made = await (await CliProcess.start("debtors", "--count", "300", "--out", str(debtors))).finished(120)
        assert made == 0
        token = up.token()
        inquire = await CliProcess.start("inquire", "--csv", str(debtors), "--out", str(out), "--api", up.api_url,
                                         "--token", token, env={"COLUMNS": "250"})
        batch_id = (await inquire.said(r"batch ([0-9a-f]{32}):")).group(1)
        async with aiohttp.ClientSession(up.api_url, headers={"Authorization": f"Bearer {token}"}) as api:
            async def started() -> dict | None:
                p = await _progress(api, batch_id)
                return p if p["legs"]["done"] > 0 else None

            at_kill = await wait_for(started, 60, interval=0.05, what="the first legs to be answered")
            assert at_kill["status"] == "running", "the batch finished before the broker could be killed under it"
            broker = up.child(BINARY[ENGINE])
            lines_before, killed = len(up.lines), time.monotonic()
            os.kill(broker, signal.SIGKILL)

            await wait_for(lambda: asyncio.sleep(0, up.said("broker killed by SIGKILL", lines_before)), 10,
                           what="assetgw up to say the broker died")
            await wait_for(lambda: asyncio.sleep(0, not Path(f"/proc/{broker}").exists()), 10, what="the dead broker to be reaped")
            await wait_for(lambda: asyncio.sleep(0, up.said("broker is back", lines_before)), 60, what="the broker to be back")
            broker_back = time.monotonic() - killed

            async def moving() -> bool:
                return (await _progress(api, batch_id))["legs"]["done"] > at_kill["legs"]["done"]

            await wait_for(moving, 120, what="legs to move again")
            legs_moving = time.monotonic() - killed
            assert await inquire.finished(300) == 0, inquire.err
            finished = time.monotonic() - killed
        reports = read_reports(out)
        assert len(reports) == 300
        async with aiohttp.ClientSession() as session:
            simulators = Simulators(up, session)
            for report in reports:
                await assert_matches_truth(report, simulators)
        print(f"\nbroker kill -9 under assetgw up ({ENGINE}), {at_kill['legs']['done']}/{at_kill['legs']['total']} legs done: "
              f"broker back after {broker_back:.1f}s, legs moving again after {legs_moving:.1f}s, "
              f"batch finished {finished:.1f}s after the kill")
        events = [orjson.loads(line) for line in (up.data_dir / "logs" / "up.log").read_bytes().splitlines()]
        broker_events = [e for e in events if e["component"] == "broker"]
        assert [e["event"] for e in broker_events][:2] == ["component exited", "component back"]
        assert broker_events[0]["exit_code"] == -9 and broker_events[0]["restart_in_s"] == 0  # a first exit: back at once
    finally:
        if inquire is not None:
            inquire.kill()
        up.stop()


@pytest.mark.isolated
async def test_healthz_is_503_with_the_reason_while_kafka_is_out_of_reach(stack) -> None:
    if stack.broker is None:
        pytest.skip("KAFKA_BOOTSTRAP is set: no embedded broker to kill")

    async def health(session: aiohttp.ClientSession, want: int) -> dict | None:
        async with session.get(f"{stack.api_url}/healthz") as r:
            return await r.json() if r.status == want else None

    async with aiohttp.ClientSession() as session:
        assert await health(session, 200) == {"ok": True}
        stack.broker.kill()
        try:
            down = await wait_for(lambda: health(session, 503), 15, what="/healthz to say Kafka is gone")
            assert down["ok"] is False and "Kafka unreachable" in down["reason"], down
        finally:
            await stack.start_broker()
        await wait_for(lambda: health(session, 200), 15, what="/healthz to be healthy again")


def test_repeated_identical_log_lines_collapse_to_a_count() -> None:
    now = [0.0]
    repeats = Repeats(window_s=30, clock=lambda: now[0])
    records = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RepeatFilter(repeats))
    log = logging.getLogger("aiokafka.test")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        for second in range(100):  # a retry storm: 10 a second for 10 s, then once more after the window
            now[0] = second / 10
            log.error("Unable connect to node with id %s", 0)
        log.info("not collapsed")
        log.info("not collapsed")
        log.error("another error")
        now[0] = 31.0
        log.error("Unable connect to node with id %s", 0)
    finally:
        log.removeHandler(handler)
    said = [r.getMessage() for r in records]
    assert said == ["Unable connect to node with id 0", "not collapsed", "not collapsed", "another error",
                    "Unable connect to node with id 0 (repeated 99 more times in the last 30s)"]

    collapse = structlog_processor(Repeats(window_s=30, clock=lambda: now[0]))
    event = {"event": "fetch failed", "level": "warning", "error": "KafkaConnectionError"}
    assert collapse(None, "warning", dict(event)) == event
    with pytest.raises(structlog.DropEvent):
        collapse(None, "warning", dict(event))
    assert collapse(None, "warning", {**event, "error": "other"})  # not identical: passes
    now[0] = 62.0
    assert collapse(None, "warning", dict(event))["repeated"] == "repeated 1 more times in the last 30s"


def _rows(population, credential: str, count: int, case: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [{**CASE, "case_number": case, "notice_number": f"{case}-查", "officer_credentials": [credential], "debtor": debtor_json(d)}
            for d in bulk_debtors(population, count)]


@pytest.mark.isolated
async def test_inquire_rides_out_a_gateway_restart_mid_batch(stack, api, simulators, population, credential, tmp_path: Path) -> None:
    source, out = tmp_path / "debtors.jsonl", tmp_path / "reports.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in _rows(population, credential, 300, "(2025)冀0108执9400号")))
    inquire = await CliProcess.start("inquire", "--jsonl", str(source), "--out", str(out), "--api", stack.api_url,
                                     "--token", officer_token(stack), env={"COLUMNS": "250"})
    try:
        batch_id = (await inquire.said(r"batch ([0-9a-f]{32}):")).group(1)
        stack.kill("gateway")  # SIGKILL
        await inquire.said("the gateway does not answer")
        await stack.restart("gateway")
        assert await inquire.finished(300) == 0, inquire.err
    finally:
        inquire.kill()
    assert "Traceback" not in inquire.err
    back = await inquire.said(r"the gateway answers again \(after ([0-9.]+)s\)")
    print(f"\ngateway kill -9 and restart under assetgw inquire: the command was without a gateway for {back.group(1)}s")
    reports = read_reports(out)
    assert len(reports) == 300 and {r["inquiry_id"] for r in reports}
    done = await _progress(api, batch_id)
    assert done["status"] == "completed" and done["rows"] == 300
    for report in reports:
        await assert_matches_truth(report, simulators)


@pytest.mark.isolated
async def test_inquire_reattaches_to_a_batch_and_a_repeated_post_makes_no_second_batch(stack, api, simulators, population,
                                                                                        credential, tmp_path: Path) -> None:
    rows = _rows(population, credential, 20, "(2025)冀0108执9401号")
    body = b"\n".join(orjson.dumps(r) for r in rows)
    key = {"Content-Type": "application/x-ndjson", "Idempotency-Key": uuid.uuid4().hex}
    async with api.post("/v1/inquiry-batches", data=body, headers=key) as r:
        assert r.status == 202, await r.text()
        first = await r.json()
    async with api.post("/v1/inquiry-batches", data=body, headers=key) as r:  # the answer was lost: sent again
        assert r.status == 200, await r.text()
        again = await r.json()
    assert again == {**first, "replayed": True}
    async with api.post("/v1/inquiry-batches", data=body + b"\n" + orjson.dumps(_rows(population, credential, 21, "(2025)冀0108执9401号")[-1]),
                        headers=key) as r:
        assert r.status == 409 and (await r.json())["errors"][0]["field"] == "Idempotency-Key"
    other = await post_batch(api, rows)  # without a key, the same rows are a new batch
    assert other["id"] != first["id"]

    out = tmp_path / "reports.jsonl"
    inquire = await CliProcess.start("inquire", "--batch", first["id"], "--out", str(out), "--api", stack.api_url,
                                     "--token", officer_token(stack))
    assert await inquire.finished(120) == 0, inquire.err
    reports = read_reports(out)
    assert len(reports) == 20 and {r["case_number"] for r in reports} == {"(2025)冀0108执9401号"}
    for report in reports:
        await assert_matches_truth(report, simulators)


async def test_inquire_with_no_gateway_fails_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "debtors.csv"
    source.write_text("case_number\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assetgw.cli", "inquire", "--csv", str(source), "--api", f"http://127.0.0.1:{free_port()}",
        "--retry-for", "1", "--token", "x", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "250"})
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("assetgw inquire: cannot reach the gateway at http://127.0.0.1:") and "is it running" in last
    assert "Traceback" not in err.decode()
