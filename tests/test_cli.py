"""The command line as a user meets it: help for every command, `assetgw up` as one process tree
that stops cleanly on SIGTERM, the broker keeping its data across a clean restart, and
`assetgw report` printing a report for a person."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from assetgw.stack.supervisor import free_port, registered_kinds
from infra.kafka.broker import EmbeddedBroker
from tests.helpers import case_body, debtor_json, officer_token, rich_debtor, wait_inquiry

COMMANDS = ["up", "broker", "simulator", "connector", "gateway", "inquire", "report", "debtors", "replay", "dlq", "lag", "rebuild",
            "plan", "order", "approve", "orders", "cases",
            "token", "simulator-fault", "bench"]


def assetgw(*args: str, **kwargs) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "assetgw.cli", *args], capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = assetgw(command, "--help")
    assert result.returncode == 0 and "usage: assetgw " + command in result.stdout


def test_up_runs_the_tree_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "assetgw.cli", "up", "--ports", "free", "--data-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "API http://" in line:
                break
        assert any("API http://127.0.0.1:" in line for line in lines), "".join(lines)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        # broker, simulator, gateway, the file exchange, a connector worker per plugged-in kind
        assert len(children) == 4 + len(registered_kinds())
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest
        assert "stopped." in rest
        alive = [pid for pid in children if Path(f"/proc/{pid}").exists()]
        assert not alive, f"children outlived assetgw up: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_noida_broker_keeps_data_across_a_clean_restart(tmp_path: Path) -> None:
    broker = EmbeddedBroker("noida", port=free_port(), data_dir=tmp_path)
    broker.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        await producer.send_and_wait("kept", b"before restart")
        await producer.stop()
        broker.stop()  # SIGTERM to the group
        broker.start()
        consumer = AIOKafkaConsumer("kept", bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=10000)
        finally:
            await consumer.stop()
        assert [m.value for ms in batches.values() for m in ms] == [b"before restart"]
    finally:
        broker.stop()


async def test_report_command_prints_a_readable_report(stack, api, population, credential) -> None:
    debtor = rich_debtor(population)
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential)) as r:
        accepted = await r.json()
    inquiry = await wait_inquiry(api, accepted["location"])
    token = officer_token(stack)
    result = await asyncio.to_thread(assetgw, "report", accepted["id"], "--api", stack.api_url, "--token", token,
                                     env={**os.environ, "COLUMNS": "160"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    total = inquiry["reports"][0]["totals_fen"]["all"]
    assert debtor.name in out and "(2025)冀0108执4502号" in out
    assert f"¥{total // 100:,}.{total % 100:02d}" in out
    for kind in ("Deposits", "Real estate", "Vehicles", "Payment wallets"):
        assert kind in out
    missing = await asyncio.to_thread(assetgw, "report", "no-such-inquiry", "--api", stack.api_url, "--token", token)
    assert missing.returncode == 1 and "no inquiry" in missing.stderr
