"""Every dashboard query against a real Prometheus with data for every catalog metric."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from acgs_dashboards.queryload import (
    DashboardLoad,
    PanelLoad,
    QueryLoadError,
    parse_time,
    round_interval,
    run_dashboard,
)
from acgs_dashboards.variables import Scope, interpolate
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_port
from acgs_testkit.stack import local_stack
from acgs_testkit.waiting import poll

NOW = 1_800_000_000.0
# Series that exist only after something went wrong: no data is the healthy answer.
ONLY_ON_TROUBLE = ("acgs_metrics_cardinality_overflow_total",)


def _empty(load: DashboardLoad) -> list[tuple[str, str]]:
    return [
        (p.title, q.expr)
        for p in load.panels
        for q in p.queries
        if q.series == 0 and not any(name in q.expr for name in ONLY_ON_TROUBLE)
    ]


def _boards(built: Path) -> list[dict[str, Any]]:
    boards = [json.loads(p.read_text()) for p in sorted((built / "dashboards").glob("*.json"))]
    for board in boards:
        # The test Prometheus is a minute old: over the SLO dashboard's 7 days the aligned
        # 15-minute steps would all fall before its first sample.
        board["time"] = {"from": "now-15m", "to": "now"}
    return boards


def _panel(load: DashboardLoad, title: str) -> PanelLoad:
    return next(p for p in load.panels if p.title == title)


def _load_until_complete(board: dict[str, Any], live: Any) -> DashboardLoad:
    """Rates need a few scrapes: retry until every panel has series (or time runs out)."""
    with live.client() as client:
        return poll(
            lambda: run_dashboard(board, client, scrape_interval_s=1),
            lambda load: not _empty(load) and not load.errors,
            timeout_s=40,
            every_s=1,
        )


def test_every_dashboard_query_returns_data(built: Path, live: Any) -> None:
    for board in _boards(built):
        load = _load_until_complete(board, live)
        assert load.errors == [], (board["uid"], load.errors)
        assert _empty(load) == [], board["uid"]
        # Every panel with a Prometheus query outside collapsed rows was run.
        expanded = [
            p
            for p in board["panels"]
            if p["type"] != "row" and any(t.get("expr") for t in p.get("targets", []))
        ]
        assert len(load.panels) == len(expanded), board["uid"]
        assert load.total_s > 0
        assert all(p.latency_s > 0 for p in load.panels)


def test_variables_expand_to_all_and_rows_repeat_per_service(built: Path, live: Any) -> None:
    board = json.loads((built / "dashboards" / "acgs-services-overview.json").read_text())
    load = _load_until_complete(board, live)
    rate_panel = next(p for p in load.panels if p.title == "Request rate" and len(p.queries) > 1)
    # The repeated row runs once per service, each with that one service.
    assert sorted(q.expr.split('service="')[1].split('"')[0] for q in rate_panel.queries) == sorted(
        live.services
    )
    overview = next(p for p in load.panels if p.title == "Request rate" and len(p.queries) == 1)
    expr = overview.queries[0].expr
    assert all(service in expr for service in live.services)
    assert "$service" not in expr
    # One series per service: the All expansion selected every service.
    assert overview.queries[0].series == len(live.services)


def test_collapsed_rows_are_skipped_unless_asked(built: Path, live: Any) -> None:
    board = json.loads((built / "dashboards" / "acgs-infrastructure.json").read_text())
    with live.client() as client:
        default = run_dashboard(board, client, scrape_interval_s=1)
        everything = run_dashboard(board, client, scrape_interval_s=1, include_collapsed=True)
    titles = {p.title for p in default.panels}
    assert "Redis memory used" not in titles
    optional = {p.title: p for p in everything.panels}
    # No HAProxy/Redis/PostgreSQL exporter here: the queries run, and return nothing.
    assert optional["Redis memory used"].series == 0
    assert optional["Redis memory used"].errors == []


def test_broken_queries_are_reported_not_raised(live: Any) -> None:
    bad_variable = {
        "name": "job",
        "type": "query",
        "query": "label_values(up{, job)",
        "current": {"value": "prometheus"},
    }
    board = {
        "title": "broken",
        "time": {"from": "now-5m", "to": "now"},
        "templating": {"list": [bad_variable]},
        "panels": [
            {"type": "timeseries", "title": "bad", "targets": [{"refId": "A", "expr": "rate(up)"}]},
            {"type": "timeseries", "title": "good", "targets": [{"expr": 'up{job="$job"}'}]},
        ],
    }
    with live.client() as client:
        load = run_dashboard(board, client, scrape_interval_s=1)
    bad, good = load.panels
    assert bad.series == 0
    assert "bad_data" in bad.errors[0]
    # The variable query failed: its saved value stands in, as in Grafana.
    assert load.errors[0].startswith("variable $job: ")
    assert good.queries[0].expr == 'up{job="prometheus"}'
    assert good.series == 1


def test_time_and_interval_follow_grafana() -> None:
    assert parse_time("now-1h", NOW) == NOW - 3600
    assert parse_time("now/d", NOW) == NOW - NOW % 86400
    assert parse_time("1700000000000", NOW) == 1_700_000_000
    assert parse_time("2023-11-14T22:13:20Z", NOW) == 1_700_000_000
    with pytest.raises(QueryLoadError, match="neither relative"):
        parse_time("yesterday", NOW)
    assert round_interval(3600 / 960) == 5  # 1 h over a half-width panel
    assert round_interval(7 * 86400 / 1920) == 300
    scope = Scope(values={"service": ["ac", "gs"], "one": ["x.y"]}, multi=frozenset({"service"}))
    scope.interval_s, scope.scrape_interval_s = 30, 15
    text = 'rate(m{service=~"$service", x="${one}"}[$__rate_interval]) [[one:raw]] $undefined'
    assert interpolate(text, scope) == 'rate(m{service=~"(ac|gs)", x="x.y"}[1m]) x.y $undefined'


def test_queryload_command(
    built: Path,
    live: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from acgs_dashboards.cli import main

    boards = str(built / "dashboards")
    args = ["queryload", boards, "--url", live.url, "--scrape-interval", "1"]
    assert main([*args, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["uid"] for r in report} == {p.stem for p in (built / "dashboards").glob("*.json")}
    assert all(r["total_ms"] > 0 and r["panels"] for r in report)
    assert main([*args, "--budget-ms", "0.001"]) == 1  # no dashboard loads in a microsecond
    assert "over the 0 ms budget" in capsys.readouterr().out
    monkeypatch.delenv("PROMETHEUS_PASSWORD", raising=False)
    assert main([*args, "--username", "admin"]) == 2
    assert "PROMETHEUS_PASSWORD" in capsys.readouterr().err
    wrong_type = tmp_path / "wrong_type.json"
    wrong_type.write_text(json.dumps({"title": "t", "panels": [], "time": "now-6h"}, indent=1))
    assert main(["queryload", str(wrong_type), "--url", live.url]) == 2
    err = capsys.readouterr().err
    assert "wrong_type.json: line 4: field 'time' must be an object, not a string" in err
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"title": "odd", "panels": [], "time": {"from": "yesterday"}}))
    assert main(["queryload", str(odd), "--url", live.url]) == 2
    assert "odd.json: time 'yesterday'" in capsys.readouterr().err
    closed = f"http://127.0.0.1:{free_port()}"
    assert main(["queryload", boards, "--url", closed]) == 2
    assert "failed" in capsys.readouterr().err


def test_unseen_dashboards_run_without_query_errors(live: Any) -> None:
    data = Path(__file__).parent / "data"
    with live.client() as client:
        for path in sorted(data.glob("*.json")):
            board = json.loads(path.read_text())
            load = run_dashboard(board, client, scrape_interval_s=1, include_collapsed=True)
            assert load.errors == [], path.name
            # Loki, expression and shared-query targets are not Prometheus queries.
            exprs = [q.expr for p in load.panels for q in p.queries]
            assert not any("|=" in e or "$A" in e for e in exprs)
            assert not any("$" in e for e in exprs), exprs
            assert load.series > 0


def test_slo_burn_rates_show_zero_on_a_healthy_stack(built: Path) -> None:
    """No 5xx anywhere: the recorded error ratios are 0 (not absent), so the panels say 0.

    A service whose first requests have not yet landed in the window is 0 as well, not NaN
    (0/0: rules/acgs-recording.yml), so the first answer is already the settled one.
    """
    rules = REPO_ROOT / "rules" / "*.yml"
    (board,) = [b for b in _boards(built) if b["uid"] == "acgs-slo"]
    with local_stack([rules], gs_error_rate=None) as healthy:
        healthy.wait_for(f"count(acgs:http_requests:rate1m) == {len(healthy.services)}", 60)
        healthy.wait_for(f"count(acgs:slo_error_ratio:rate5m) == {len(healthy.services)}", 30)
        with healthy.client() as client:
            errors = client.get("/api/v1/query", params={"query": "acgs:slo_error_ratio:rate5m"})
            assert {s["value"][1] for s in errors.json()["data"]["result"]} == {"0"}
        # The services' first requests land over a few seconds: wait until every one shows.
        load = poll(
            lambda: _load_until_complete(board, healthy),
            lambda load: _panel(load, "Burn rate by service (1h)").series == len(healthy.services),
            timeout_s=30,
            every_s=1,
        )
    by_title = {p.title: p for p in load.panels}
    per_service = by_title["Burn rate by service (1h)"]
    assert load.errors == []
    assert _empty(load) == []
    assert per_service.series == len(healthy.services)
    (worst,) = by_title["Burn rate (1h, worst service)"].queries
    assert worst.series == 1
