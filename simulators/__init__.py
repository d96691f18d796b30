"""Simulated partner institutions (banks, land registries, vehicle offices, payment apps) that
answer from one deterministic population, so every answer can be checked against the truth.

They stand for independent institutions: they import only the shared contract (``schemas``).
"""
