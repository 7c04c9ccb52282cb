"""The backfill's parts without a stack: windows, incidents, the service and live models, rule
levels, and a window made into a real TSDB block by promtool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acgs_deploy import flags
from acgs_deploy.backfill.blocks import WINDOW_S, BlockWriter, windows
from acgs_deploy.backfill.models import (
    DAY_S,
    LiveModel,
    LiveSeries,
    ServiceModel,
    daily_load,
    plan_incidents,
)
from acgs_deploy.backfill.rules import rule_levels
from acgs_deploy.errors import UsageError
from acgs_testkit.paths import REPO_ROOT

START = 1_764_547_200.0  # 2025-12-01 00:00 UTC, a Monday


def test_windows_are_cut_at_two_hour_boundaries() -> None:
    cuts = windows(START + 600, START + 3 * WINDOW_S + 60)
    assert cuts[0] == (START + 600, START + WINDOW_S)
    assert cuts[-1] == (START + 3 * WINDOW_S, START + 3 * WINDOW_S + 60)
    assert all(a < b for a, b in cuts)
    assert all(cuts[i][1] == cuts[i + 1][0] for i in range(len(cuts) - 1))


def test_incidents_are_a_few_a_day_and_inside_the_history() -> None:
    incidents = plan_incidents(["auth", "pgc"], START, START + 10 * DAY_S, 3)
    assert 10 <= len(incidents) <= 60
    assert all(START <= i.start < i.end <= START + 10 * DAY_S for i in incidents)
    assert any(i.fault is None for i in incidents)  # outages
    assert any(i.fault is not None for i in incidents)
    assert incidents == plan_incidents(["auth", "pgc"], START, START + 10 * DAY_S, 3)


def test_daily_load_peaks_in_the_afternoon_and_drops_at_weekends() -> None:
    night, afternoon = daily_load(START + 3 * 3600), daily_load(START + 15 * 3600)
    assert afternoon > 2 * night
    saturday = START + 5 * DAY_S + 15 * 3600
    assert daily_load(saturday) < afternoon


def test_service_model_serves_traffic_and_applies_target_labels() -> None:
    target = {"job": "acgs-auth", "instance": "127.0.0.1:8000", "service": "auth"}
    model = ServiceModel(target, 5.0, [], seed=1)
    model.samples(START)
    points = model.samples(START + 300)
    assert points is not None
    requests = [p for p in points if p[0] == "acgs_http_requests_total"]
    assert sum(value for _, _, value in requests) > 0
    labels = dict(requests[0][1])
    assert labels["job"] == "acgs-auth"
    assert labels["service"] == "auth"
    assert "exported_service" in labels  # the scraped label clashes with the target's
    assert not [p for p in points if p[0].endswith("_created")]


def test_an_outage_scrapes_nothing() -> None:
    target = {"job": "acgs-auth", "instance": "127.0.0.1:8000", "service": "auth"}
    outage = plan_incidents(["auth"], START, START + 40 * DAY_S, 1)
    down = next(i for i in outage if i.fault is None)
    model = ServiceModel(target, 5.0, [down], seed=1)
    assert model.samples(down.start + 1) is None
    assert model.samples(down.end + 1) is not None


def test_live_model_grows_counters_and_keeps_whole_gauges() -> None:
    labels = (("instance", "n:9100"), ("job", "node"))
    series = [
        LiveSeries("node_cpu_seconds_total", labels, 50.0, 2.0),
        LiveSeries("node_exporter_build_info", labels, 1.0, 0.0),
        LiveSeries("node_load1", labels, 0.5, 0.0),
    ]
    model = LiveModel({"job": "node", "instance": "n:9100"}, 15.0, series, START, seed=2)
    values = {name: value for name, _, value in model.samples(START + 100) or []}
    assert values["node_cpu_seconds_total"] == pytest.approx(200.0)
    assert values["node_exporter_build_info"] == 1.0
    assert values["node_load1"] == pytest.approx(0.5, rel=0.011)


def test_rule_levels_put_rules_of_recorded_series_after_them() -> None:
    levels = rule_levels(REPO_ROOT / "rules")
    by_name = {name: level.number for level in levels for name in level.names}
    assert by_name["acgs:http_requests:rate1m"] == 1
    assert by_name["acgs:http_error_ratio:rate1m"] == 2
    for level in levels:
        for group in level.groups:
            assert all("record" in rule for rule in group["rules"])


def test_a_window_becomes_a_block_with_every_sample(tmp_path: Path) -> None:
    target = {"job": "acgs-ac", "instance": "127.0.0.1:8001", "service": "ac"}
    models = [ServiceModel(target, 5.0, [], seed=1)]
    writer = BlockWriter(models, tmp_path, seed=1)
    writer.window(START, START + 900, lambda part: None)
    writer.finish()
    metas = [json.loads(p.read_text()) for p in (tmp_path / "blocks").glob("*/meta.json")]
    assert len(metas) == 1
    assert metas[0]["stats"]["numSamples"] == writer.written.samples
    assert metas[0]["stats"]["numSeries"] == writer.written.series
    assert not list(tmp_path.glob("*.om"))  # the window's input is gone


def test_end_takes_rfc3339_or_unix_seconds() -> None:
    assert flags.timestamp("--end", "2025-12-01T00:00:00Z") == START
    assert flags.timestamp("--end", str(START)) == START
    with pytest.raises(UsageError, match="--end 'yesterday'"):
        flags.timestamp("--end", "yesterday")
