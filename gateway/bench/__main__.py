"""``python -m gateway.bench``: the same as ``assetgw bench``."""

from gateway.bench.cli import main

main()
