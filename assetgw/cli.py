"""``assetgw``: the one command-line entry point."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from schemas import ports
from schemas.directory import KINDS

SHUTDOWN_LIMIT_S = 60.0


def _run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run a long-lived component; SIGINT/SIGTERM set the stop event for a graceful exit. If the
    graceful exit hangs (e.g. the broker is gone and a last commit can never land), the process
    leaves anyway after SHUTDOWN_LIMIT_S: what it had not committed is redelivered."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if not stop.is_set():
                stop.set()
                loop.call_later(SHUTDOWN_LIMIT_S, _give_up)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await main(stop)

    asyncio.run(runner())


def _give_up() -> None:
    print(f"graceful shutdown took over {SHUTDOWN_LIMIT_S:.0f}s; exiting now", file=sys.stderr, flush=True)
    os._exit(75)


def cmd_broker(args: argparse.Namespace) -> None:
    from assetgw.stack.supervisor import without_secrets
    from infra.kafka.broker import EmbeddedBroker
    from infra.kafka.topics import ensure_topics
    from infra.settings import Settings

    settings = Settings.from_env()
    broker = EmbeddedBroker(args.engine, port=args.port, data_dir=Path(args.data_dir), env=without_secrets(dict(os.environ)))
    broker.start()
    print(f"{args.engine} broker listening on {broker.bootstrap} (data in {broker.data_dir}); Ctrl-C stops it", flush=True)

    async def main(stop: asyncio.Event) -> None:
        try:
            await ensure_topics(broker.bootstrap, settings.topic_prefix, args.partitions or settings.partitions, settings.topic_retention_s)
            waiter = asyncio.create_task(broker.wait())
            await asyncio.wait([waiter, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        finally:
            broker.stop()

    _run_until_signalled(main)


def cmd_simulator(args: argparse.Namespace) -> None:
    from infra import heap
    from infra.logs import configure_logging
    from simulators.cli import run_simulators

    configure_logging("simulator")
    # The population above all lives as long as the process: out of the collector's sight.
    _run_until_signalled(lambda stop: run_simulators(args, stop, on_ready=heap.settle))


def cmd_connector(args: argparse.Namespace) -> None:
    from connectors.runtime.run import run_connectors
    from infra.logs import configure_logging
    from infra.settings import Settings
    from schemas.signing import MissingPartnerKeys

    kinds = list(KINDS) if args.kind == "all" else [args.kind]
    configure_logging(f"connector-{args.kind}")
    try:
        _run_until_signalled(lambda stop: run_connectors(Settings.from_env(), kinds, stop))
    except MissingPartnerKeys as exc:
        sys.exit(f"assetgw connector: {exc}")


def cmd_exchange(args: argparse.Namespace) -> None:
    from infra.exchange import run_exchange
    from infra.logs import configure_logging
    from infra.metrics import serve_metrics
    from infra.settings import Settings
    from schemas.signing import PartnerKeysError, load_partner_keys

    configure_logging("exchange")
    settings = Settings.from_env()
    try:
        keys = load_partner_keys()  # the logins' passwords derive from them: no exchange without
    except PartnerKeysError as exc:
        sys.exit(f"assetgw exchange: {exc}")

    async def main(stop: asyncio.Event) -> None:
        health = await serve_metrics(settings.api_host, args.health_port)
        try:
            await run_exchange(settings.data_dir, settings.directory, keys, args.host, args.port, stop)
        finally:
            await health.cleanup()

    _run_until_signalled(main)


def cmd_gateway(args: argparse.Namespace) -> None:
    from gateway.http.auth import MissingSecret
    from gateway.service import run_gateway
    from infra.logs import configure_logging
    from infra.settings import Settings

    configure_logging("gateway")
    try:
        _run_until_signalled(lambda stop: run_gateway(Settings.from_env(), stop))
    except MissingSecret as exc:
        sys.exit(f"assetgw gateway: {exc}")


def cmd_up(args: argparse.Namespace) -> None:
    from assetgw.stack.up import run_up
    from infra.settings import Settings

    Settings.from_env()  # a bad variable fails here, named, rather than in every child's log
    _run_until_signalled(lambda stop: run_up(args, stop))


def cmd_inquire(args: argparse.Namespace) -> None:
    from assetgw.inquire import inquire

    source = args.csv or args.jsonl
    try:
        sys.exit(asyncio.run(inquire(args.api, args.token, Path(source) if source else None, "csv" if args.csv else "jsonl",
                                     Path(args.out), args.timeout, args.batch, args.retry_for)))
    except KeyboardInterrupt:
        sys.exit("assetgw inquire: interrupted; a batch already submitted goes on (assetgw inquire --batch ID re-attaches)")


def cmd_report(args: argparse.Namespace) -> None:
    from assetgw.gateway_client import run
    from assetgw.report_cli import report

    sys.exit(run("report", report(args)))


def cmd_token(args: argparse.Namespace) -> None:
    from gateway.http.auth import MissingSecret, TokenAuthority, load_token_secret

    if not os.environ.get("ASSETGW_TOKEN_SECRET") and not os.environ.get("ASSETGW_TOKEN_SECRET_FILE"):
        default = Path(os.environ.get("ASSETGW_DATA_DIR", ".assetgw")) / "token.secret"
        if default.is_file():  # the secret `assetgw up` made
            os.environ["ASSETGW_TOKEN_SECRET_FILE"] = str(default)
    try:
        authority = TokenAuthority(load_token_secret())
        print(authority.issue(args.officer, args.court, args.court_code, args.role, args.ttl_hours * 3600,
                              args.credential))
    except (MissingSecret, ValueError) as exc:
        sys.exit(f"assetgw token: {exc}")


def cmd_debtors(args: argparse.Namespace) -> None:
    from assetgw.sample_debtors import write_sample_debtors

    write_sample_debtors(args)


def build_parser() -> argparse.ArgumentParser:
    api_default = os.environ.get("ASSETGW_API", f"http://127.0.0.1:{ports.API}")
    parser = argparse.ArgumentParser(prog="assetgw", description="Court network asset inquiry gateway (网络执行查控), simulated.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("up", help="run the whole stack (broker, simulators, connectors, gateway) until Ctrl-C")
    p.add_argument("--engine", choices=("noida", "tansu"), default="noida", help="embedded broker (ignored when KAFKA_BOOTSTRAP is set)")
    p.add_argument("--data-dir", default=os.environ.get("ASSETGW_DATA_DIR", ".assetgw"), help="state and logs (default .assetgw)")
    p.add_argument("--demo", action="store_true", help="submit a demo inquiry once the stack is up and print its report")
    p.add_argument("--latency", default="30:300", help="simulated institution latency MEDIAN_MS:P99_MS (default 30:300)")
    p.add_argument("--activity", default=os.environ.get("ASSETGW_SIM_ACTIVITY_PER_S") or "1", metavar="PER_S",
                   help="simulated background activity per second, so the feeds show life (default ASSETGW_SIM_ACTIVITY_PER_S or 1)")
    p.add_argument("--store", choices=("sqlite", "postgres"), default=os.environ.get("ASSETGW_STORE", "sqlite"),
                   help="the gateway's store: sqlite (default, in the data directory) or postgres (a PostgreSQL server "
                        "started in the data directory, or the one ASSETGW_DATABASE_URL names)")
    p.add_argument("--gateways", type=int, default=1, metavar="N",
                   help="gateway instances sharing the work, on consecutive API ports (2 or more need --store postgres)")
    p.add_argument("--ports", choices=("default", "free"), default="default",
                   help=f"default: API {ports.API} (and up, one per gateway), broker {ports.BROKER}, simulators "
                        f"{min(ports.SIMULATORS.values())}-{max(ports.SIMULATORS.values())}; free: any free ports")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("broker", help="run the embedded Kafka-protocol broker in the foreground")
    p.add_argument("--engine", choices=("noida", "tansu"), default="noida", help="noida-db (default, durable) or tansu (memory only)")
    p.add_argument("--port", type=int, default=ports.BROKER, help=f"loopback port (default {ports.BROKER})")
    p.add_argument("--data-dir", default=".assetgw/broker", help="broker data directory (noida-db)")
    p.add_argument("--partitions", type=int, default=None, help="partitions per topic (default ASSETGW_PARTITIONS or 4)")
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("simulator", help="run the partner-institution simulators")
    p.add_argument("--kinds", default=",".join(KINDS), help="institution kinds to serve (default all)")
    p.add_argument("--ports", default="", help="kind=port,... (default " + ",".join(f"{k}={p}" for k, p in ports.SIMULATORS.items()) + ")")
    p.add_argument("--seed", type=int, default=int(os.environ.get("ASSETGW_SEED", "20251122")), help="population seed")
    p.add_argument("--persons", type=int, default=10_000, help="people in the population (default 10000)")
    p.add_argument("--companies", type=int, default=1_000, help="companies in the population (default 1000)")
    p.add_argument("--latency", default=os.environ.get("ASSETGW_SIM_LATENCY", "30:300"), help="default latency MEDIAN_MS:P99_MS")
    p.add_argument("--institution-latency", action="append", default=[], metavar="ID=MEDIAN:P99", help="per-institution latency, repeatable")
    p.add_argument("--activity", default=os.environ.get("ASSETGW_SIM_ACTIVITY_PER_S") or "0", metavar="PER_S",
                   help="background activity (credits, spending, sightings, check-ins) per second; 0 = off (default "
                        "ASSETGW_SIM_ACTIVITY_PER_S or 0)")
    p.add_argument("--data-dir", default=os.environ.get("ASSETGW_DATA_DIR"),
                   help="where the institutions keep ledgers, answers, feeds, clock and nonces across restarts "
                        "(DATA_DIR/simulators/KINDS.sqlite3; default ASSETGW_DATA_DIR; none: in memory, forgotten on exit)")
    p.set_defaults(func=cmd_simulator)

    p = sub.add_parser("connector", help="run connector workers for one institution kind (or all)")
    p.add_argument("--kind", choices=(*KINDS, "all"), required=True, help="institution kind to serve")
    p.set_defaults(func=cmd_connector)

    p = sub.add_parser("exchange", help="run the network's SFTP file exchange for the banks that poll for work")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=ports.EXCHANGE, help=f"SFTP port (default {ports.EXCHANGE})")
    p.add_argument("--health-port", type=int, default=ports.EXCHANGE_HEALTH,
                   help=f"port of its /healthz (default {ports.EXCHANGE_HEALTH})")
    p.set_defaults(func=cmd_exchange)

    p = sub.add_parser("gateway", help="run the gateway API and its Kafka loops")
    p.set_defaults(func=cmd_gateway)

    p = sub.add_parser("inquire", help="submit debtors in bulk and write their merged reports as JSON Lines")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", help="CSV of debtor rows (columns in docs/officers.md)")
    src.add_argument("--jsonl", help="JSON Lines of debtor rows")
    src.add_argument("--batch", metavar="ID", help="re-attach to a batch already submitted: wait for it and write its reports")
    p.add_argument("--out", default="reports.jsonl", help="where to write the reports (default reports.jsonl)")
    p.add_argument("--api", default=api_default, help=f"gateway URL (default {api_default})")
    p.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the batch (default 3600)")
    p.add_argument("--retry-for", type=float, default=120, metavar="SECONDS",
                   help="how long to keep retrying while the gateway cannot be reached (default 120)")
    p.add_argument("--token", default=os.environ.get("ASSETGW_TOKEN"), help="bearer token (default $ASSETGW_TOKEN; see assetgw token)")
    p.set_defaults(func=cmd_inquire)

    p = sub.add_parser("token", help="issue an officer's bearer token (demo; uses the deployment's token secret)")
    p.add_argument("--officer", required=True, help="officer id, e.g. the 执行公务证 number")
    p.add_argument("--court", required=True, help="the court's name, as cases name it")
    p.add_argument("--court-code", required=True, help="the court's code in case numbers, e.g. 冀0108")
    p.add_argument("--role", action="append", choices=("officer", "deduct", "ops"), required=True, help="repeatable")
    p.add_argument("--credential", action="append", default=[],
                   help="a 执行公务证 number registered to the officer, the only ones he may present; repeatable")
    p.add_argument("--ttl-hours", type=float, default=8, help="validity (default 8 hours)")
    p.set_defaults(func=cmd_token)

    from assetgw.report_cli import add_report_filters

    p = sub.add_parser("report", help="print one inquiry's merged report for a person to read")
    p.add_argument("inquiry_id")
    p.add_argument("--api", default=api_default, help=f"gateway URL (default {api_default})")
    p.add_argument("--json", action="store_true", help="print the raw JSON instead")
    p.add_argument("--token", default=os.environ.get("ASSETGW_TOKEN"), help="bearer token (default $ASSETGW_TOKEN; see assetgw token)")
    add_report_filters(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("debtors", help="write a sample debtor CSV from the simulators' population (for demos)")
    p.add_argument("--count", type=int, default=100, help="how many debtors (default 100)")
    p.add_argument("--out", default="debtors.csv", help="CSV file to write (default debtors.csv)")
    p.add_argument("--seed", type=int, default=int(os.environ.get("ASSETGW_SEED", "20251122")), help="population seed")
    p.set_defaults(func=cmd_debtors)
    from assetgw.bench.cli import add_bench_command
    from assetgw.ops.commands import add_ops_commands
    from assetgw.ops.lag_cli import add_lag_command
    from assetgw.ops.rebuild_cli import add_rebuild_command
    from assetgw.ops.reconcile import add_reconcile_command
    from assetgw.ops.simulator_fault import add_fault_command
    from assetgw.ops.topics_cli import add_topics_command
    from assetgw.orders_cli import add_officer_commands
    from assetgw.sign_cli import add_sign_command

    add_ops_commands(sub)
    add_officer_commands(sub, api_default)
    add_fault_command(sub)
    add_bench_command(sub)
    add_lag_command(sub, api_default)
    add_reconcile_command(sub, api_default)
    add_rebuild_command(sub)
    add_topics_command(sub)
    add_sign_command(sub)
    return parser


# What runs a stack rather than talks to one: they take their endpoints from flags and the
# environment alone, never from a running stack's file.
SERVES = {"up", "broker", "simulator", "connector", "gateway", "bench"}


def main(argv: list[str] | None = None) -> None:
    from assetgw.endpoints import fill_environment
    from assetgw.stack.supervisor import StackError
    from infra.kafka.broker import BrokerError
    from infra.settings import SettingsError

    command = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    if command not in SERVES:
        fill_environment()  # before the parser: its defaults (--api) come from the environment
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (BrokerError, StackError, SettingsError) as exc:
        sys.exit(f"assetgw {args.command}: {exc}")


if __name__ == "__main__":
    main()
