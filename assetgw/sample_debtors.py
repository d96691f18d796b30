"""``assetgw debtors``: a sample debtor CSV drawn from the simulators' population, for demos."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.inquiries.bulk import to_csv
from simulators.population import Population


def write_sample_debtors(args: argparse.Namespace) -> None:
    population = Population.generate(seed=args.seed)
    step = max(1, len(population.debtors) // max(args.count, 1))
    chosen = population.debtors[::step][: args.count]
    rows = [
        {
            "case_number": f"(2025)冀0108执{5000 + i // 100}号",
            "court": "石家庄市裕华区人民法院",
            "amount_due_fen": 10_000_000,
            "costs_fen": 100_000,
            "notice_number": f"(2025)冀0108执{5000 + i // 100}号-查",
            "officer_credentials": [population.officer_credentials[0]],
            "debtor_kind": d.kind,
            "id_number": d.id_number,
            "name": d.name,
        }
        for i, d in enumerate(chosen)
    ]
    Path(args.out).write_text(to_csv(rows), encoding="utf-8")
    print(f"wrote {len(rows)} debtors to {args.out}")
