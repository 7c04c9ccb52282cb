"""`invoke backfill` on the whole local stack (demo services, TLS, basic auth): an hour of
history before the stack's own data, for every target, with the recorded series; refused
when it would overlap the data or reach past the retention, with nothing written. Run by
`nox -s stack`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from acgs_deploy import commands
from acgs_deploy.backfill import BackfillReport, run_backfill
from acgs_deploy.client import api_get, query, stack_client
from acgs_deploy.exitcodes import EXIT_USAGE
from acgs_deploy.settings import StackSettings
from acgs_testkit.stack import deployed_stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def backfilled(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[StackSettings, BackfillReport]]:
    with deployed_stack(tmp_path_factory.mktemp("backfill-stack")) as settings:
        time.sleep(35)  # a few scrapes, so the live series have rates to extrapolate
        report = run_backfill(settings, 1.0, console=Console(quiet=True))
        yield settings, report


def at(settings: StackSettings, expr: str, when: float) -> list[dict[str, Any]]:
    with stack_client(settings, "prometheus") as client:
        return query(client, expr, at=when)


def test_every_target_has_an_hour_of_history(
    backfilled: tuple[StackSettings, BackfillReport],
) -> None:
    settings, report = backfilled
    with stack_client(settings, "prometheus") as client:
        targets = api_get(client, "/api/v1/targets", {"state": "active"})["activeTargets"]
    assert report.targets == len(targets)
    assert report.end - report.start == 3600
    middle = report.start + 1800
    jobs = {t["labels"]["job"] for t in targets}
    history = at(settings, "count by (job) (up)", middle)
    assert {series["metric"]["job"] for series in history} == jobs
    # Services served requests all hour (a daily cycle, never zero) ...
    served = at(settings, 'sum(increase(acgs_http_requests_total{job="acgs-auth"}[50m]))',
                report.start + 3300)  # fmt: skip
    assert float(served[0]["value"][1]) > 100
    # ... and the other targets' series are there too, counters growing.
    assert at(settings, 'rate(node_cpu_seconds_total{mode="idle"}[5m])', middle)
    assert report.samples > 100_000
    assert report.samples_per_s > 0


def test_history_has_the_live_series_labels(
    backfilled: tuple[StackSettings, BackfillReport],
) -> None:
    """Target labels applied as a scrape applies them: same label names as the live series."""
    settings, report = backfilled
    then = at(settings, 'acgs_http_requests_total{job="acgs-pgc"}', report.start + 1800)
    now = at(settings, 'acgs_http_requests_total{job="acgs-pgc"}', time.time())
    assert then
    assert now
    assert {frozenset(s["metric"]) for s in then} == {frozenset(s["metric"]) for s in now}


def test_recorded_series_cover_the_history(
    backfilled: tuple[StackSettings, BackfillReport],
) -> None:
    settings, report = backfilled
    assert report.rule_levels >= 2
    assert report.recorded_samples > 0
    assert at(settings, "acgs:http_requests:rate1m", report.start + 1800)
    # Level 2 reads level 1: it is there only if level 1 was loaded before it ran.
    assert at(settings, "acgs:http_error_ratio:rate1m", report.start + 1800) or not at(
        settings, "acgs:http_errors:rate1m", report.start + 1800
    )


def test_overlap_and_retention_are_refused_with_nothing_written(
    backfilled: tuple[StackSettings, BackfillReport],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings, report = backfilled
    data = settings.layout.prometheus_data
    before = sorted(p.name for p in data.iterdir())
    overlap = commands.backfill(hours=1, end=str(time.time()), settings=settings)
    assert overlap == EXIT_USAGE
    assert "would overlap the stack's data" in capsys.readouterr().err
    too_long = commands.backfill(hours=24 * 30, settings=settings)
    assert too_long == EXIT_USAGE
    assert "past the retention (15d)" in capsys.readouterr().err
    assert sorted(p.name for p in data.iterdir()) == before
    assert not list(Path(settings.layout.data_dir).glob("backfill-*"))
    assert report.end <= time.time()
