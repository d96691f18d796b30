"""``assetgw rebuild``: rebuild the store from the topics and say how it differs from the live one."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from assetgw.ops.reading import OpsError
from assetgw.ops.rebuild import compare, rebuild
from assetgw.terminal import inert
from gateway.store.factory import Location, store_location
from infra.settings import Settings


async def run_rebuild(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    console = Console(stderr=True)
    # The live store: a SQLite file, or the PostgreSQL database the settings name.
    live: Location = args.live or store_location(settings)
    if isinstance(live, str) and not live.startswith(("postgresql://", "postgres://")):
        live = Path(live)
    if isinstance(live, Path) and not live.is_file():
        console.print(f"[red]no live store at {live} (set --live or ASSETGW_DATA_DIR)")
        return 2
    out = Path(args.out or settings.data_dir / f"rebuild-{time.strftime('%Y%m%dT%H%M%S')}.sqlite3")
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description} {task.completed} messages"), console=console) as bar:
            task = bar.add_task("reading topics", total=None)
            rebuilt = await rebuild(settings, out, progress=lambda n: bar.advance(task, n))
    except (OpsError, FileExistsError) as exc:
        console.print(f"[red]assetgw rebuild: {inert(exc)}")
        return 2
    for line in rebuilt.skipped_lines():  # said on stderr whatever the output format
        console.print(f"[yellow]{inert(line)}[/yellow] (a mistaken replay? the gateway dead-lettered them)")
    report = compare(live, out)
    report["skipped"] = [{"topic": t, "type": m, "count": n} for (t, m), n in sorted(rebuilt.skipped.items())]
    if args.json:
        print(orjson.dumps(report).decode())
    else:
        console.print(f"rebuilt store: {out}", soft_wrap=True)
        for table in ("inquiries", "legs", "orders"):
            t = report[table]
            console.print(f"{table:9} live {t['live']:>5} · rebuilt {t['rebuilt']:>5} · only live {t['only_live_count']} · "
                          f"only rebuilt {t['only_rebuilt_count']} · differ {t['different_count']}", soft_wrap=True)
            for d in t["different"]:
                console.print(f"  {inert(d['id'])}", soft_wrap=True)
                for name, values in d["fields"].items():
                    console.print(f"    {name}: live {inert(values['live'])} · rebuilt {inert(values['rebuilt'])}", soft_wrap=True)
        console.print("[green]equal[/green]" if report["equal"] else "[yellow]the stores differ[/yellow]")
    return 0 if report["equal"] else 1


def add_rebuild_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rebuild", help="re-derive the gateway store from the topics and compare it with the live one")
    p.add_argument("--out", help="the fresh database to write (default DATA_DIR/rebuild-TIMESTAMP.sqlite3)")
    p.add_argument("--live", help="the live store to compare with (default DATA_DIR/gateway.sqlite3)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=lambda args: _exit(asyncio.run(run_rebuild(args))))


def _exit(code: int) -> None:
    raise SystemExit(code)
