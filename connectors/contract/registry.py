"""Connector discovery through the ``assetgw.connectors`` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from connectors.contract.base import ConnectorFactory

GROUP = "assetgw.connectors"


def load_connectors() -> dict[str, ConnectorFactory]:
    found = {ep.name: ep.load() for ep in entry_points(group=GROUP)}
    if not found:
        raise RuntimeError(f"no connectors registered under the {GROUP!r} entry points; is the package installed (pip install -e .)?")
    return found
