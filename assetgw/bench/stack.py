"""The bench's own stack (the project's Stack plus scale-out workers) and the sampling of its
processes' CPU time and RSS from /proc."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from assetgw.bench.common import MB


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM and RssAnon of a process in bytes (empty if it is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process so far."""
    fields = _stat(pid)
    try:
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else None
    except ValueError:
        return None


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time so far of a server that forks a process per connection (PostgreSQL's postmaster):
    its own, its children's that it has reaped, and its live children's."""
    fields = _stat(pid)
    if not fields:
        return None
    ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (child := _stat(int(entry.name))) and child[1] == str(pid):
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


SERVERS = ("postgres",)  # names in ``pids()`` whose CPU is read with ``server_cpu_seconds``


def process_cpu_seconds(name: str, pid: int) -> float | None:
    return server_cpu_seconds(pid) if name in SERVERS else cpu_seconds(pid)


def make_stack_class():  # type: ignore[no-untyped-def]
    from assetgw.stack.supervisor import PARTNER_KEYS, Service, Stack, free_port

    class BenchStack(Stack):
        """The project's Stack plus extra connector worker processes per kind (scale-out)."""

        extra_metrics: dict[str, int]

        def add_connector_instance(self, kind: str, index: int) -> str:
            """Spawns another worker of ``kind``, as Stack.spawn does, with its own instance name
            (static group membership) and metrics port; Stack.stop stops it with the rest."""
            name = f"connector-{kind}-{index}"
            port = free_port()
            self.services[name] = Service(
                name, ["connector", "--kind", kind], [f"http://127.0.0.1:{port}/healthz"],
                env={"ASSETGW_METRICS_PORT": str(port), "ASSETGW_INSTANCE": f"bench-{socket.gethostname()}-{index}"},
                secrets=PARTNER_KEYS,  # a connector signs with the partner keys, and sees nothing else
            )
            self.extra_metrics = {**getattr(self, "extra_metrics", {}), name: port}
            self.spawn(name)
            return name

        def pids(self) -> dict[str, int]:
            out = {name: s.process.pid for name, s in self.services.items() if s.process is not None and s.process.poll() is None}
            if self.broker is not None and self.broker.process is not None:
                out["broker"] = self.broker.process.pid
            if self.postgres is not None:  # the PostgreSQL server (its backends counted with it: SERVERS)
                out["postgres"] = self.postgres.get_pid()
            return out

        def connector_metrics_urls(self) -> dict[str, str]:
            urls = {f"connector-{k}": f"http://127.0.0.1:{p}/metrics" for k, p in self.metrics_ports.items()}
            urls.update({n: f"http://127.0.0.1:{p}/metrics" for n, p in getattr(self, "extra_metrics", {}).items()})
            return urls

    return BenchStack


class Sampler:
    """Samples VmRSS of the stack's processes while a run goes on; reads VmHWM and CPU at the end."""

    def __init__(self, pids: dict[str, int], interval_s: float = 0.2) -> None:
        self.pids = pids
        self.interval_s = interval_s
        self.peak: dict[str, int] = {}
        self.peak_anon: dict[str, int] = {}
        self.start_rss: dict[str, int] = {n: proc_status(p).get("VmRSS", 0) for n, p in pids.items()}
        self.cpu0 = {n: process_cpu_seconds(n, p) for n, p in pids.items()}
        self.cpu0["bench"] = sum(os.times()[:2])
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            status = proc_status(pid)
            self.peak[name] = max(self.peak.get(name, 0), status.get("VmRSS", 0))
            self.peak_anon[name] = max(self.peak_anon.get(name, 0), status.get("RssAnon", 0))

    async def _loop(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self.interval_s)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._task:
            self._task.cancel()
        self._sample()
        self.hwm = {n: proc_status(p).get("VmHWM", 0) for n, p in self.pids.items()}
        cpu1 = {n: process_cpu_seconds(n, p) for n, p in self.pids.items()}
        cpu1["bench"] = sum(os.times()[:2])
        self.cpu = {n: round(cpu1[n] - self.cpu0[n], 2) for n in cpu1 if cpu1.get(n) is not None and self.cpu0.get(n) is not None}

    def report(self) -> dict[str, Any]:
        return {
            "peak_rss_mb": {n: round(v / MB, 1) for n, v in sorted(self.peak.items())},
            "peak_rss_anon_mb": {n: round(v / MB, 1) for n, v in sorted(self.peak_anon.items())},
            "rss_at_start_mb": {n: round(v / MB, 1) for n, v in sorted(self.start_rss.items())},
            "vmhwm_mb": {n: round(v / MB, 1) for n, v in sorted(self.hwm.items())},
            "cpu_seconds": dict(sorted(self.cpu.items())),
        }
