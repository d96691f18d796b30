"""``assetgw up``'s watchdog: restarts every component that exits, the broker included, with backoff.

Polling a child's exit status also reaps it, so a killed broker never lingers as a zombie. A
component that keeps dying is restarted ever more slowly (up to 30 s apart); one that ran for a
minute before it died starts again at once. Each exit and each return is said on the console and
written as a JSON line to ``logs/up.log``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from assetgw.stack.supervisor import Stack

BROKER = "broker"
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STEADY_S = 60.0  # a component that ran this long before exiting starts again without delay
HEALTHY_WITHIN_S = 600.0  # how long a restarted component may take to answer /healthz (it may wait for the broker)


@dataclass
class _Component:
    started_at: float
    exits: int = 0  # exits in a row, each within STEADY_S of its start (failed restarts count too)
    exited_at: float | None = None
    task: asyncio.Task[None] | None = None


def _backoff(exits_in_a_row: int) -> float:
    """At once after a first exit; then 0.5 s, doubling up to 30 s, while it keeps exiting."""
    return 0.0 if exits_in_a_row <= 1 else BACKOFF_S[min(exits_in_a_row - 2, len(BACKOFF_S) - 1)]


def _exit_text(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exited with {code}"


class Watchdog:
    def __init__(self, stack: Stack, say: Callable[[str], None], log_path: Path | None = None) -> None:
        self.stack, self._say = stack, say
        self.log_path = log_path or stack.logs / "up.log"
        now = time.monotonic()
        names = ([BROKER] if stack.broker else []) + list(stack.services)
        self._components = {name: _Component(now) for name in names}

    def check(self) -> None:
        """One look at every component: start a restart for each that has exited."""
        for name, c in self._components.items():
            if c.task is not None and not c.task.done():
                continue
            code = self._exit_code(name)
            if code is None:
                continue
            now = time.monotonic()
            c.exits = 1 if now - c.started_at >= STEADY_S else c.exits + 1
            delay = _backoff(c.exits)
            c.exited_at = now
            self._note("warning", "component exited", f"{name} {_exit_text(code)}; restarting in {delay:.1f}s", name,
                       exit_code=code, restart_in_s=delay, exits_in_a_row=c.exits)
            c.task = asyncio.create_task(self._restart(name, c, delay), name=f"restart-{name}")

    async def close(self) -> None:
        tasks = [c.task for c in self._components.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _process(self, name: str) -> subprocess.Popen[bytes] | None:
        if name == BROKER:
            return self.stack.broker.process if self.stack.broker else None
        return self.stack.services[name].process

    def _exit_code(self, name: str) -> int | None:
        """The exit status of a component that has ended (polling reaps it), else None."""
        process = self._process(name)
        return process.poll() if process is not None else None

    def _running(self, name: str) -> bool:
        process = self._process(name)
        return process is not None and process.poll() is None

    async def _restart(self, name: str, c: _Component, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            c.started_at = time.monotonic()
            try:
                if name == BROKER:
                    await self.stack.start_broker()
                else:
                    self.stack.spawn(name)
                    await self.stack.wait_healthy(name, HEALTHY_WITHIN_S)
                break
            except Exception as exc:  # noqa: BLE001 - whatever it was, try again later
                if self._running(name):  # up but not (yet) healthy: leave it; an exit is the next check's
                    self._note("warning", "restart unhealthy", f"{name} runs but is not healthy: {exc}", name, error=str(exc))
                    return
                c.exits += 1
                delay = _backoff(c.exits)
                self._note("warning", "restart failed", f"{name} did not come back ({exc}); again in {delay:.1f}s", name,
                           error=str(exc), restart_in_s=delay)
        down_s = time.monotonic() - (c.exited_at or c.started_at)
        self._note("info", "component back", f"{name} is back, {down_s:.1f}s after it exited", name, down_s=round(down_s, 2))

    def _note(self, level: str, event: str, text: str, component: str, **fields: object) -> None:
        self._say(text)
        line = {"timestamp": datetime.now(UTC).isoformat(), "level": level, "event": event, "component": component, **fields}
        with self.log_path.open("ab") as f:
            f.write(orjson.dumps(line) + b"\n")
