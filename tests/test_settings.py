"""Settings from the environment: every variable, its default, empty meaning unset, a bad value
named in one line (also by the CLI, without a traceback), and the ``_FILE`` forms of secrets."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.http.auth import MissingSecret, load_token_secret
from infra.settings import Settings, SettingsError, _Environment, log_level
from schemas.directory import DEFAULT_COUNTS
from schemas.signing import load_partner_keys

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "kafka_bootstrap": "127.0.0.1:19092",
    "kafka_idempotence": True,
    "instance": f"{socket.gethostname()}-0",
    "topic_prefix": "assetgw",
    "partitions": 4,
    "data_dir": Path(".assetgw"),
    "api_host": "127.0.0.1",
    "api_port": 18080,
    "metrics_port": 0,
    "simulator_urls": {
        "bank": "http://127.0.0.1:18101",
        "land": "http://127.0.0.1:18102",
        "vehicle": "http://127.0.0.1:18103",
        "payment": "http://127.0.0.1:18104",
        "lodging": "http://127.0.0.1:18105",
        "fund": "http://127.0.0.1:18106",
        "equity": "http://127.0.0.1:18107",
        "court": "http://127.0.0.1:18112",
        "airline": "http://127.0.0.1:18115",
        "railway": "http://127.0.0.1:18116",
        "securities": "http://127.0.0.1:18108",
    },
    "institution_urls": {},
    "inquiry_deadline_s": 600.0,
    "order_deadline_s": 172800.0,
    "resend_after_s": 120.0,
    "call_timeout_s": 10.0,
    "call_attempts": 4,
    "max_inflight_per_institution": 16,
    "breaker_failures": 5,
    "breaker_cool_down_s": 5.0,
    "max_inflight": 512,
    "max_inflight_legs": 10000,
    "legs_per_message": 200,
    "result_linger_s": 0.05,
    "rate_limit_per_s": 200.0,
    "rate_limit_burst": 400.0,
    "anon_rate_limit_per_s": 10.0,
    "anon_rate_limit_burst": 100.0,
    "header_timeout_s": 20.0,
    "body_timeout_s": 60.0,
    "living_allowance_fen": 90_000,
    "console_demo": (),
    "reconcile_every_s": 900.0,
    "topic_retention_s": 0,
    "store": "sqlite",
    "database_url": "",
    "log_level": "INFO",
    "polling_interval_s": 5.0,
}

# (variable, value, attribute, what the attribute becomes)
READS = [
    ("KAFKA_BOOTSTRAP", "kafka:9092", "kafka_bootstrap", "kafka:9092"),
    ("ASSETGW_KAFKA_IDEMPOTENCE", "0", "kafka_idempotence", False),
    ("ASSETGW_INSTANCE", "gateway-3", "instance", "gateway-3"),
    ("ASSETGW_TOPIC_PREFIX", "test1", "topic_prefix", "test1"),
    ("ASSETGW_PARTITIONS", "8", "partitions", 8),
    ("ASSETGW_DATA_DIR", "/data", "data_dir", Path("/data")),
    ("ASSETGW_API_HOST", "0.0.0.0", "api_host", "0.0.0.0"),
    ("ASSETGW_API_PORT", "8080", "api_port", 8080),
    ("ASSETGW_METRICS_PORT", "9100", "metrics_port", 9100),
    ("ASSETGW_SIM_HOST", "simulator", "simulator_urls",
     {kind: url.replace("127.0.0.1", "simulator") for kind, url in DEFAULTS["simulator_urls"].items()}),
    ("ASSETGW_SIM_URL_BANK", "http://bank.example:80", "simulator_urls",
     {**DEFAULTS["simulator_urls"], "bank": "http://bank.example:80"}),
    ("ASSETGW_SIM_URL_PAYMENT", "http://pay.example", "simulator_urls",
     {**DEFAULTS["simulator_urls"], "payment": "http://pay.example"}),
    ("ASSETGW_INQUIRY_DEADLINE", "30", "inquiry_deadline_s", 30.0),
    ("ASSETGW_ORDER_DEADLINE", "3600", "order_deadline_s", 3600.0),
    ("ASSETGW_RESEND_AFTER", "15", "resend_after_s", 15.0),
    ("ASSETGW_CALL_TIMEOUT", "2.5", "call_timeout_s", 2.5),
    ("ASSETGW_CALL_ATTEMPTS", "2", "call_attempts", 2),
    ("ASSETGW_MAX_INFLIGHT_PER_INSTITUTION", "4", "max_inflight_per_institution", 4),
    ("ASSETGW_BREAKER_FAILURES", "3", "breaker_failures", 3),
    ("ASSETGW_BREAKER_COOLDOWN", "1.5", "breaker_cool_down_s", 1.5),
    ("ASSETGW_MAX_INFLIGHT", "64", "max_inflight", 64),
    ("ASSETGW_MAX_INFLIGHT_LEGS", "500", "max_inflight_legs", 500),
    ("ASSETGW_LEGS_PER_MESSAGE", "25", "legs_per_message", 25),
    ("ASSETGW_RESULT_LINGER_MS", "250", "result_linger_s", 0.25),  # milliseconds in, seconds out
    ("ASSETGW_RESULT_LINGER_MS", "0", "result_linger_s", 0.0),
    ("ASSETGW_RATE_LIMIT", "5000", "rate_limit_per_s", 5000.0),
    ("ASSETGW_RATE_BURST", "10000", "rate_limit_burst", 10000.0),
    ("ASSETGW_ANON_RATE_LIMIT", "2", "anon_rate_limit_per_s", 2.0),
    ("ASSETGW_ANON_RATE_BURST", "20", "anon_rate_limit_burst", 20.0),
    ("ASSETGW_HEADER_TIMEOUT", "5", "header_timeout_s", 5.0),
    ("ASSETGW_BODY_TIMEOUT", "7.5", "body_timeout_s", 7.5),
    ("ASSETGW_LIVING_ALLOWANCE_FEN", "0", "living_allowance_fen", 0),
    ("ASSETGW_RECONCILE_EVERY", "0", "reconcile_every_s", 0.0),
    ("ASSETGW_TOPIC_RETENTION", "3600", "topic_retention_s", 3600),
    ("ASSETGW_CONSOLE_DEMO", "ZF00000001,ZF00000002", "console_demo", ("ZF00000001", "ZF00000002")),
    ("ASSETGW_STORE", "sqlite", "store", "sqlite"),  # postgres needs a URL too: test_a_postgres_store_needs_its_url
    ("ASSETGW_DATABASE_URL", "postgresql://gw@db/assetgw", "database_url", "postgresql://gw@db/assetgw"),
    ("ASSETGW_LOG_LEVEL", "debug", "log_level", "DEBUG"),
    # One institution at its own base URL (a partner's implementation under test); not a field of
    # the model: one variable per institution of the directory.
    ("ASSETGW_INSTITUTION_URL_BANK_03", "http://10.0.0.7:8443", "institution_urls", {"bank-03": "http://10.0.0.7:8443"}),
    ("ASSETGW_POLLING_INTERVAL", "1200", "polling_interval_s", 1200.0),
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: the suite's own environment (e.g. KAFKA_BOOTSTRAP) stays out."""
    for name in list(os.environ):
        if name.startswith("ASSETGW_") or name == "KAFKA_BOOTSTRAP":
            monkeypatch.delenv(name)


def _as_dict(settings: Settings) -> dict[str, object]:
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name != "directory"}


def test_defaults() -> None:
    settings = Settings.from_env()
    assert _as_dict(settings) == DEFAULTS
    assert [i.id for i in settings.directory.of_kind("bank")][-1] == "bank-22"
    # 22 banks, 3 land registries, 1 vehicle office, 2 payment apps, 4 fund centres, 1 market
    # regulator, 3 courts, 1 securities depository answer inquiries; 2 lodging registries only tell
    # events; 2 airlines and 1 railway take consumption restrictions only.
    assert len(settings.directory.institutions) == 42
    assert len(settings.directory.queryable()) == 37
    assert settings.api_url == "http://127.0.0.1:18080"


@pytest.mark.parametrize(("variable", "value", "attribute", "expected"), READS, ids=[r[0] for r in READS])
def test_every_variable_is_read(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, attribute: str,
                                expected: object) -> None:
    monkeypatch.setenv(variable, value)
    settings = _as_dict(Settings.from_env())
    assert settings[attribute] == expected
    assert {k: v for k, v in settings.items() if k != attribute} == {k: v for k, v in DEFAULTS.items() if k != attribute}


def test_the_table_covers_every_variable_and_attribute() -> None:
    assert set(_Environment.model_fields) <= {variable for variable, *_ in READS}
    assert {attribute for _, _, attribute, _ in READS} == set(DEFAULTS)


def test_institutions_variable_shapes_the_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETGW_INSTITUTIONS", "bank=2,payment=1")
    directory = Settings.from_env().directory
    assert [i.id for i in directory.of_kind("bank")] == ["bank-01", "bank-02"]
    assert [i.id for i in directory.of_kind("payment")] == ["payment-01"]


def test_polling_banks_variable_picks_the_last_banks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [i.id for i in Settings.from_env().directory.polling()] == [f"bank-{n}" for n in range(17, 23)]
    monkeypatch.setenv("ASSETGW_POLLING_BANKS", "2")
    assert [i.id for i in Settings.from_env().directory.polling()] == ["bank-21", "bank-22"]
    monkeypatch.setenv("ASSETGW_POLLING_BANKS", "0")
    assert Settings.from_env().directory.polling() == []
    for bad in ("-1", "six"):
        monkeypatch.setenv("ASSETGW_POLLING_BANKS", bad)
        with pytest.raises(SettingsError, match="ASSETGW_POLLING_BANKS"):
            Settings.from_env()
    monkeypatch.setenv("ASSETGW_POLLING_BANKS", "6")
    monkeypatch.setenv("ASSETGW_POLLING_INTERVAL", "0")
    with pytest.raises(SettingsError, match="ASSETGW_POLLING_INTERVAL"):
        Settings.from_env()


def test_empty_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, *_ in READS:
        monkeypatch.setenv(variable, "")
    monkeypatch.setenv("ASSETGW_INSTITUTIONS", "")
    settings = Settings.from_env()
    assert _as_dict(settings) == DEFAULTS
    assert len(settings.directory.institutions) == sum(DEFAULT_COUNTS.values())


@pytest.mark.parametrize(("word", "meaning"), [("1", True), ("TRUE", True), ("Yes", True), ("on", True),
                                               ("0", False), ("false", False), ("NO", False), ("Off", False)])
def test_idempotence_flag_words(monkeypatch: pytest.MonkeyPatch, word: str, meaning: bool) -> None:
    monkeypatch.setenv("ASSETGW_KAFKA_IDEMPOTENCE", word)
    assert Settings.from_env().kafka_idempotence is meaning


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("ASSETGW_PARTITIONS", "four", "valid integer"),
    ("ASSETGW_PARTITIONS", "0", "greater than or equal to 1"),
    ("ASSETGW_API_PORT", "70000", "less than or equal to 65535"),
    ("ASSETGW_METRICS_PORT", "-1", "greater than or equal to 0"),
    ("ASSETGW_CALL_TIMEOUT", "0", "greater than 0"),
    ("ASSETGW_INQUIRY_DEADLINE", "soon", "valid number"),
    ("ASSETGW_RESEND_AFTER", "inf", "finite number"),
    ("ASSETGW_LEGS_PER_MESSAGE", "0", "greater than or equal to 1"),
    ("ASSETGW_RATE_LIMIT", "-5", "greater than 0"),
    ("ASSETGW_RATE_BURST", "0", "greater than 0"),
    ("ASSETGW_LIVING_ALLOWANCE_FEN", "900.5", "valid integer"),
    ("ASSETGW_RECONCILE_EVERY", "-1", "greater than or equal to 0"),
    ("ASSETGW_TOPIC_RETENTION", "an hour", "valid integer"),
    ("ASSETGW_CONSOLE_DEMO", "ZF1, <script>", "should match pattern"),
    ("ASSETGW_RESULT_LINGER_MS", "-1", "greater than or equal to 0"),
    ("ASSETGW_KAFKA_IDEMPOTENCE", "maybe", "expected one of 1, true, yes, on, 0, false, no, off"),
    ("ASSETGW_INSTITUTIONS", "bank=many", "expected kind=count"),
    ("ASSETGW_LOG_LEVEL", "loud", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
])
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    message = str(caught.value)
    assert message.startswith(variable) and expected in message
    assert "\n" not in message


def test_a_postgres_store_needs_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETGW_STORE", "postgres")
    with pytest.raises(SettingsError, match=r"^ASSETGW_DATABASE_URL: ASSETGW_STORE=postgres needs a postgresql:// URL$"):
        Settings.from_env()
    monkeypatch.setenv("ASSETGW_DATABASE_URL", "postgresql://gw@db/assetgw")
    settings = Settings.from_env()
    assert (settings.store, settings.database_url) == ("postgres", "postgresql://gw@db/assetgw")
    monkeypatch.setenv("ASSETGW_STORE", "mysql")
    with pytest.raises(SettingsError, match=r"^ASSETGW_STORE="):
        Settings.from_env()


def test_every_bad_value_is_named_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETGW_PARTITIONS", "four")
    monkeypatch.setenv("ASSETGW_API_PORT", "99999")
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert str(caught.value) == (
        "ASSETGW_PARTITIONS='four': Input should be a valid integer, unable to parse string as an integer; "
        "ASSETGW_API_PORT='99999': Input should be less than or equal to 65535"
    )


def test_log_level_is_checked_alone_before_logging_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert log_level() == "INFO"
    monkeypatch.setenv("ASSETGW_LOG_LEVEL", "warning")
    assert log_level() == "WARNING"
    monkeypatch.setenv("ASSETGW_LOG_LEVEL", "loud")
    with pytest.raises(SettingsError, match="ASSETGW_LOG_LEVEL='loud': expected one of DEBUG, INFO, WARNING, ERROR"):
        log_level()


def test_the_log_level_is_what_a_component_logs() -> None:
    """A component at WARNING drops its info lines and keeps its warnings."""
    said = "import structlog; from infra.logs import configure_logging; configure_logging('t'); " \
           "log = structlog.get_logger(); log.info('quiet-info'); log.warning('loud-warning')"
    for level, info_shown in (("WARNING", False), ("info", True)):
        run = subprocess.run([sys.executable, "-c", said], capture_output=True, text=True, check=True,
                             env={**os.environ, "ASSETGW_LOG_LEVEL": level})
        assert "loud-warning" in run.stderr and ("quiet-info" in run.stderr) == info_shown, run.stderr


def test_settings_are_immutable() -> None:
    settings = Settings.from_env()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.partitions = 8  # type: ignore[misc]


def test_token_secret_from_its_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "token.secret"
    secret.write_text("s" * 40 + "\n")  # Docker secrets end with a newline
    monkeypatch.setenv("ASSETGW_TOKEN_SECRET_FILE", str(secret))
    assert load_token_secret() == b"s" * 40
    monkeypatch.setenv("ASSETGW_TOKEN_SECRET", "v" * 40)  # the variable itself wins
    assert load_token_secret() == b"v" * 40
    monkeypatch.setenv("ASSETGW_TOKEN_SECRET", "")
    assert load_token_secret() == b"s" * 40
    secret.write_text("short")
    with pytest.raises(MissingSecret):
        load_token_secret()


def test_partner_keys_from_their_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "partner-keys.json"
    keys_file.write_text('{"bank-01": "' + "ab" * 16 + '"}')
    keys = load_partner_keys({"ASSETGW_PARTNER_KEYS_FILE": str(keys_file), "ASSETGW_PARTNER_MASTER_KEY": "cd" * 16})
    assert keys.key_for("bank-01") == bytes.fromhex("ab" * 16)
    assert load_partner_keys({"ASSETGW_PARTNER_MASTER_KEY": "cd" * 16}).master == bytes.fromhex("cd" * 16)


@pytest.mark.parametrize("command", [["gateway"], ["connector", "--kind", "bank"], ["up"], ["broker"]], ids=" ".join)
def test_the_cli_names_a_bad_variable_in_one_line(tmp_path: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETGW_") and k != "KAFKA_BOOTSTRAP"}
    env.update(ASSETGW_PARTITIONS="four", ASSETGW_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "assetgw.cli", *command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == (f"assetgw {command[0]}: ASSETGW_PARTITIONS='four': "
                           "Input should be a valid integer, unable to parse string as an integer\n")
