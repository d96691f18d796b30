"""Simulated partner institutions (banks, land registries, vehicle offices, payment apps) that
answer from one deterministic population, so every answer can be checked against the truth."""

from simulators.behaviour import Behaviour, Behaviours
from simulators.clock import SimClock
from simulators.latency import Latency
from simulators.ledger_book import LedgerBook
from simulators.population import DebtorRecord, Population
from simulators.server import DEFAULT_PORTS, serve

__all__ = [
    "Behaviour", "Behaviours", "DEFAULT_PORTS", "DebtorRecord", "Latency", "LedgerBook", "Population", "SimClock",
    "serve",
]
