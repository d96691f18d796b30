"""``python -m assetgw.bench``: the same as ``assetgw bench``."""

from assetgw.bench.cli import main

main()
