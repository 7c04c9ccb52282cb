"""The demo's infrastructure (``invoke deploy --demo``, unless ``--no-infra`` or ``infra:
false``): HAProxy in front of the seven services with its native Prometheus exporter, Redis and
PostgreSQL that acgs-sim uses, and their exporters, each on the guide's port behind the stack's
TLS and basic auth.

Unlike the rest of the stack it is optional: a part that cannot run here (its package missing
and not installable, its port taken, PostgreSQL failing to initialise) is left out with one line
saying why and what to do, the rest of the stack comes up, and `status` and `health` show the
part as "left out" with that line. `plan` makes that decision, before anything is started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["JOBS", "NEEDS", "PARTS", "STORES", "Plan", "needing"]

# In start order: the stores before acgs-sim (which uses them), HAProxy and the exporters after.
PARTS = (
    "redis",
    "postgres",
    "haproxy",
    "redis_exporter",
    "redis_exporter_tls",
    "postgres_exporter",
)
# Started before acgs-sim, which uses them.
STORES = ("redis", "postgres")
# A part left out leaves out the parts that need it.
NEEDS: Mapping[str, str] = {
    "redis_exporter": "redis",
    "redis_exporter_tls": "redis_exporter",
    "postgres_exporter": "postgres",
}
# Scrape job -> (the part serving its metrics, its port setting, the setting of a user's own).
JOBS: Mapping[str, tuple[str, str, str]] = {
    "haproxy": ("haproxy", "haproxy_metrics_port", "haproxy_exporter_target"),
    "redis": ("redis_exporter_tls", "redis_exporter_port", "redis_exporter_target"),
    "postgres": ("postgres_exporter", "postgres_exporter_port", "postgres_exporter_target"),
}


@dataclass
class Plan:
    """The parts a deploy runs, and the ones it leaves out with the line saying why."""

    run: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)

    def leave_out(self, part: str, why: str) -> None:
        """Leave out `part` and every part that needs it (they say which one they needed)."""
        for name in [part, *needing(part)]:
            if name in self.run:
                self.run.remove(name)
                self.left_out[name] = why if name == part else f"{name}: needs {part}: {why}"


def needing(part: str) -> list[str]:
    """The parts that need `part`, directly or not."""
    found = [name for name, need in NEEDS.items() if need == part]
    return found + [deeper for name in found for deeper in needing(name)]
