"""The seven ACGS governance services of the production guide and their default ports."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SERVICES", "SERVICE_NAMES", "ServiceSpec", "service"]


class ServiceSpec(NamedTuple):
    name: str
    port: int
    title: str


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("auth", 8000, "Authentication"),
    ServiceSpec("ac", 8001, "Constitutional AI"),
    ServiceSpec("integrity", 8002, "Integrity"),
    ServiceSpec("fv", 8003, "Formal Verification"),
    ServiceSpec("gs", 8004, "Governance Synthesis"),
    ServiceSpec("pgc", 8005, "Policy Governance and Compliance"),
    ServiceSpec("ec", 8006, "Evolutionary Computation"),
)
SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
BASE_PORT = SERVICES[0].port


def service(name: str) -> ServiceSpec:
    """The service called ``name``; a KeyError lists the known ones."""
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown ACGS service {name!r}; known: {', '.join(SERVICE_NAMES)}")
