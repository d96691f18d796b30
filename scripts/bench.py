#!/usr/bin/env python3
"""Benchmark the whole asset-gateway stack against its targets (also: ``assetgw bench``).

    python scripts/bench.py [--debtors N] [--latency-samples 200] [--orders M] [--memory-scale K]
                            [--skip SECTION ...] [--json out.json] [--engine noida|tansu] [--smoke]

Starts its own stack (the embedded broker, or the cluster in ``KAFKA_BOOTSTRAP``) in a temporary
data directory, prints a results table with pass/miss per target and writes the figures as JSON
(default ``bench-results.json``). ``--smoke`` runs tiny sizes in well under two minutes.

The harness lives in ``assetgw/bench/`` so the installed ``assetgw bench`` runs the same
code; this script only finds it. On a fresh checkout without the project's virtualenv it creates
one first (``scripts/_venv.sh``, as ``scripts/run`` and ``scripts/test`` do) and re-runs itself there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _reexec_in_venv() -> None:
    if os.environ.get("ASSETGW_BENCH_REEXEC") == "1":
        sys.exit("bench: the project's dependencies are missing even in .venv; run scripts/_venv.sh or pip install -e .")
    os.environ["ASSETGW_BENCH_REEXEC"] = "1"
    script = str(Path(__file__).resolve())
    shell = f'source "{ROOT}/scripts/_venv.sh" && exec "{ROOT}/.venv/bin/python" "$0" "$@"'
    os.execvp("bash", ["bash", "-c", shell, script, *sys.argv[1:]])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    try:
        import aiokafka  # noqa: F401
        import rich  # noqa: F401

        from assetgw.bench.cli import main
    except ImportError:
        _reexec_in_venv()
    main()
