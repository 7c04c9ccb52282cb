"""What `invoke perf` concludes from its measurements."""

from __future__ import annotations

from acgs_deploy.perf.loadgen import LoadResult
from acgs_deploy.perf.run import generator_check


def _load(cpu_s: float, duration_s: float = 10.0) -> LoadResult:
    return LoadResult(users=100, duration_s=duration_s, samples=[], cpu_s=cpu_s, cpu_count=2)


def test_a_saturated_load_generator_invalidates_the_run() -> None:
    busy = generator_check(_load(cpu_s=9.0))
    assert busy.passed is False
    assert busy.name == "load generator saturated"
    assert "90% of a core" in busy.measured
    idle = generator_check(_load(cpu_s=3.0))
    assert idle.passed is True
    assert "30% of a core" in idle.measured
