"""An operator's mistakes, absorbed: a replay into a topic that carries another type is refused
(unless forced); forced through, the gateway sets the messages aside and counts them, and a rebuild
skips and counts them instead of crashing; a replay of results the gateway already has is counted
as duplicates. Through the real broker, gateway and CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson

from assetgw.ops.rebuild import rebuild
from infra.kafka.topics import legs_topic, results_topic
from tests.helpers import metric_total, open_case, ops_settings, pick, run_cli, wait_for


async def _metric(api: aiohttp.ClientSession, name: str, labels: str) -> float:
    async with api.get("/metrics") as r:
        assert r.status == 200
        return metric_total(await r.text(), name, labels)


async def test_mistaken_replay_is_refused_then_absorbed_and_rebuild_skips_it(stack, api, population, credential, tmp_path: Path) -> None:
    prefix = stack.env.get("ASSETGW_TOPIC_PREFIX", "assetgw")
    legs, results = legs_topic(prefix, "bank"), results_topic(prefix)
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    debtor = pick(population, lambda assets: any(a.kind == "deposit" for a in assets))
    await open_case(api, debtor, credential)  # legs on the bank topic, results on the results topic, from now on

    code, _, err = await run_cli(stack, "replay", legs, "--since", since, "--to", results, "--execute")
    assert code == 1 and f"{results} carries inquiry.legs.result, not inquiry.legs.requested" in err and "--force" in err

    ignored = await _metric(api, "assetgw_ignored_total", 'reason="wrong_type",what="results"')
    code, out, err = await run_cli(stack, "replay", legs, "--since", since, "--to", results, "--execute", "--force", "--json")
    forced = orjson.loads(out)
    assert code == 0 and forced["published"] >= 1, err

    async def set_aside() -> float | None:
        now = await _metric(api, "assetgw_ignored_total", 'reason="wrong_type",what="results"')
        return now if now >= ignored + forced["published"] else None

    await wait_for(set_aside, 30, what="the gateway to set the mistaken legs aside")

    duplicates = await _metric(api, "assetgw_duplicates_total", 'what="leg_result"')
    code, out, err = await run_cli(stack, "replay", results, "--since", since, "--type", "inquiry.legs.result", "--execute", "--json")
    again = orjson.loads(out)
    assert code == 0 and again["published"] >= 1 and again["held_back"] == {}, err

    async def absorbed() -> float | None:
        now = await _metric(api, "assetgw_duplicates_total", 'what="leg_result"')
        return now if now >= duplicates + again["published"] else None

    await wait_for(absorbed, 30, what="the replayed results to be counted as duplicates")

    rebuilt = await rebuild(ops_settings(stack), tmp_path / "rebuilt.sqlite3")
    assert rebuilt.skipped[(results, "inquiry.legs.requested")] >= forced["published"]
    assert any(results in line and "inquiry.legs.requested" in line for line in rebuilt.skipped_lines())
    code, out, err = await run_cli(stack, "rebuild", "--out", str(tmp_path / "cli.sqlite3"), "--json")
    assert code in (0, 1) and "AttributeError" not in err, err  # 1: the stores differ (other tests' work in flight)
    assert any(s["topic"] == results and s["type"] == "inquiry.legs.requested" for s in orjson.loads(out)["skipped"])
    assert "skipped" in err and "inquiry.legs.requested" in err
