"""The exposition of every catalog metric passes the real ``promtool check metrics``."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import CollectorRegistry

from acgs_metrics import CATALOG, Instruments, MetricSpec, MetricType
from acgs_metrics.exposition import render

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool_check(exposition: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=exposition,
        capture_output=True,
        timeout=60,
        check=False,
    )


def populated_registry() -> CollectorRegistry:
    """A registry where every catalog metric has one series with a value."""
    registry = CollectorRegistry()
    instruments = Instruments(registry=registry, strict=True)
    for spec in CATALOG:
        values = [label.example_value for label in spec.labels]
        if spec.type is MetricType.COUNTER:
            instruments.counter(spec.name).labels(*values).inc()
        elif spec.type is MetricType.GAUGE:
            low, high = spec.value_range or (0.0, 10.0)
            instruments.gauge(spec.name).labels(*values).set((low + high) / 2)
        else:
            instruments.histogram(spec.name).labels(*values).observe(0.3)
    return registry


def test_every_catalog_metric_passes_promtool_check_metrics() -> None:
    body, _ = render(populated_registry())
    text = body.decode()
    for spec in CATALOG:
        assert f"\n{spec.series_names[0]}{{" in text, spec.name
    result = promtool_check(body)
    assert (result.returncode, result.stdout + result.stderr) == (0, b"")


def test_promtool_does_flag_a_badly_named_metric() -> None:
    # The control: the check above is only worth something if promtool complains here.
    bad = b"# HELP acgs_requests Requests.\n# TYPE acgs_requests counter\nacgs_requests 1\n"
    result = promtool_check(bad)
    assert result.returncode != 0
    assert b'counter metrics should have "_total" suffix' in result.stdout + result.stderr


@pytest.mark.parametrize("spec", list(CATALOG), ids=lambda spec: spec.name)
def test_example_label_values_are_allowed(spec: MetricSpec) -> None:
    for label in spec.labels:
        assert label.allows(label.example_value)
