"""Personal data at rest is its user's only, and each process holds only the secrets it needs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from assetgw.stack.supervisor import PARTNER_KEYS, SECRET_VARIABLES, TOKEN_SECRET
from infra.processes import make_private
from tests.helpers import case_body, debtor_json, wait_inquiry


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")] if not p.is_symlink()}


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item)


async def test_the_data_directory_is_private_with_the_broker_and_logs_inside(stack, api, population, credential) -> None:
    debtor = next(d for d in population.debtors if d.kind == "person")
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential, institutions=["bank-01"])) as r:
        assert r.status == 202, await r.text()
        await wait_inquiry(api, (await r.json())["location"])  # the store, the broker and the logs all hold it now
    modes = _modes(stack.data_dir)
    names = set(modes)
    assert "gateway.sqlite3" in names and any(n.startswith("logs/") for n in names)
    if stack.broker is not None:
        assert any(n.startswith("broker/") and n != "broker" for n in names)
    loose = {name: oct(mode) for name, mode in modes.items()
             if mode != (0o700 if (stack.data_dir / name).is_dir() else 0o600)}
    assert not loose, loose


def test_what_an_older_version_left_is_tightened(tmp_path) -> None:
    old = tmp_path / "data"
    (old / "logs").mkdir(parents=True)
    (old / "gateway.sqlite3").write_text("x")
    (old / "logs" / "gateway.log").write_text("x")
    os.chmod(old, 0o755)
    os.chmod(old / "gateway.sqlite3", 0o644)
    make_private(old)
    assert _modes(old) == {".": 0o700, "logs": 0o700, "gateway.sqlite3": 0o600, "logs/gateway.log": 0o600}


def test_each_process_holds_only_its_own_secrets(stack) -> None:
    token_secret = stack.env["ASSETGW_TOKEN_SECRET"]
    partner_key = stack.env["ASSETGW_PARTNER_MASTER_KEY"]
    # The file exchange checks each institution's login, which is derived from the partner keys.
    allowed = {"gateway": TOKEN_SECRET, "simulator": PARTNER_KEYS, "exchange": PARTNER_KEYS}
    for name, service in stack.services.items():
        assert service.process is not None and service.process.poll() is None, name
        env = _environ(service.process.pid)
        mine = allowed.get(name, PARTNER_KEYS if name.startswith("connector-") else ())
        assert not {k for k in env if k in SECRET_VARIABLES} - set(mine), (name, sorted(k for k in env if k in SECRET_VARIABLES))
        values = "\0".join(env.values())
        assert (token_secret in values) == (name == "gateway"), name
        assert (partner_key in values) == (name != "gateway"), name
    if stack.broker is not None and stack.broker.process is not None:
        env = _environ(stack.broker.process.pid)
        assert not set(env) & set(SECRET_VARIABLES)
        assert token_secret not in "\0".join(env.values()) and partner_key not in "\0".join(env.values())
