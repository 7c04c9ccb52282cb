"""The seven ACGS governance services of the production guide and their default ports.

When several instances of each service run (a fleet, ``acgs-sim --replicas N``), instance
``r`` of service ``i`` listens on ``base_port + r * 7 + i``: instance 0 keeps the guide's
ports (8000..8006), instance 1 takes the next seven (8007..8013), and so on. The whole fleet
takes ``7 * N`` consecutive ports from ``base_port`` (:func:`instance_port`).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SERVICES", "SERVICE_NAMES", "ServiceSpec", "instance_port", "service"]


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


def instance_port(name: str, base_port: int = BASE_PORT, replica: int = 0) -> int:
    """The port of instance ``replica`` (0-based) of service ``name`` in a fleet from
    ``base_port``: ``base_port + replica * 7 + index`` (see the module docstring)."""
    return base_port + replica * len(SERVICES) + SERVICE_NAMES.index(service(name).name)
