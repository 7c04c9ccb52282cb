"""The live checks against a real Prometheus holding a known, backfilled history.

The server (acgs_testkit.livedata) scrapes itself every 20 s and holds ``demo_flag``, on for
5 minutes every 30 minutes six times over the last 3 hours, and ``demo_requests_total``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from acgs_promql.findings import Finding
from acgs_promql.live.backtest import play
from acgs_rules.cli import main
from acgs_rules.lint import LintResult, lint
from acgs_rules.live import LiveOptions
from acgs_rules.settings import LintSettings
from acgs_testkit.ca import Certs
from acgs_testkit.livedata import FLAP_PHASES, live_prometheus
from acgs_testkit.ports import free_port
from acgs_testkit.servers import Server, WebAuth, node_exporter

AlertFile = Callable[..., str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A foreign service's metrics, defined nowhere the static sources look: only the live
    # Prometheus that scrapes it knows their types.
    registry = CollectorRegistry()
    Counter("shop_orders", "orders placed", ["region"], registry=registry).labels("eu").inc()
    Gauge("shop_queue_depth", "orders waiting", registry=registry).set(3)
    port = free_port()
    app, thread = start_http_server(port, "127.0.0.1", registry)
    try:
        with live_prometheus(
            tmp_path_factory.mktemp("live"), int(time.time()), app=f"127.0.0.1:{port}"
        ) as prometheus:
            yield prometheus
    finally:
        app.shutdown()
        thread.join()


def _lint(tmp_path: Path, text: str, url: str | None, **live: object) -> LintResult:
    path = tmp_path / "rules.yml"
    path.write_text(text)
    options = LiveOptions(url, **live) if url else None  # type: ignore[arg-type]
    return lint([path], LintSettings(), promtool=False, live=options)


def _of(result: LintResult, check: str) -> list[Finding]:
    return [f for f in result.findings if f.check == check]


def test_metrics_without_series_and_label_values_never_seen(server: Server, tmp_path: Path) -> None:
    rules = "groups:\n  - name: g\n    rules:\n" + "".join(
        f"      - record: r{i}\n        expr: {expr}\n"
        for i, expr in enumerate(
            [
                "demo_flgg",  # typo: nothing knows it
                "prometheus_http_requests_totl",  # typo in an exporter's namespace
                'demo_flag{instance="b"}',  # a value never seen
                'demo_flag{zone="eu"}',  # a label never seen
                'demo_flag{instance=~"a|c"} + demo_flag{instance!="b"}',  # fine
                "absent(gone_metric) or demo_flag or vector(0)",  # absence planned
                "r0 + demo_requests_total",  # r0 is recorded here: not deployed yet
            ]
        )
    )
    result = _lint(tmp_path, rules, server.url)
    series = {f.message.split("'")[1]: f for f in _of(result, "promql/series")}
    assert set(series) == {"demo_flgg", "prometheus_http_requests_totl"}
    assert series["demo_flgg"].severity == "error"
    assert "over the last 1d" in series["demo_flgg"].message
    values = [f.message for f in _of(result, "promql/label-value")]
    assert len(values) == 2
    assert any('instance="b"' in m and "values seen: 'a'" in m for m in values)
    assert any("'zone' label" in m and "instance, job" in m for m in values)
    offline = _lint(tmp_path, rules, None)
    assert not _of(offline, "promql/series")
    assert not _of(offline, "promql/label-value")


def test_types_come_from_the_live_metadata(
    server: Server, tmp_path: Path, alert_file: AlertFile
) -> None:
    text = alert_file("rate(shop_queue_depth[5m]) > 0 or shop_orders_total > 100")
    result = _lint(tmp_path, text, server.url, backtest_hours=0)
    counter = [f.message for f in _of(result, "promql/counter")]
    assert len(counter) == 2
    assert any("shop_queue_depth" in m and "live Prometheus http://127.0.0.1" in m for m in counter)
    assert any("shop_orders_total" in m and "compared raw" in m for m in counter)
    assert not _of(result, "promql/unknown-metric")
    assert not _of(result, "promql/series")
    labels = _lint(tmp_path, alert_file('shop_orders_total{region="us"} > 0'), server.url)
    assert "values seen: 'eu'" in _of(labels, "promql/label-value")[0].message


def test_range_windows_against_the_targets_real_scrape_interval(
    server: Server,
    tmp_path: Path,
    alert_file: AlertFile,
) -> None:
    text = alert_file("rate(prometheus_http_requests_total[30s]) > 1")
    live = _of(_lint(tmp_path, text, server.url, backtest_hours=0), "promql/range-window")
    assert len(live) == 1
    assert "(20s, its targets' scrape interval in http://127.0.0.1" in live[0].message
    assert "use at least [40s]" in live[0].message
    # The ACGS default (15 s) would have let it pass.
    assert not _of(_lint(tmp_path, text, None), "promql/range-window")


def test_detection_latency_takes_the_running_config(
    server: Server,
    tmp_path: Path,
    alert_file: AlertFile,
) -> None:
    text = alert_file("demo_flag > 0", for_="for: 0s").replace("warning", "critical")
    live = _of(_lint(tmp_path, text, server.url, backtest_hours=0), "alert/detection-latency")
    assert len(live) == 1
    message = live[0].message
    assert "scrape 20s + evaluation 20s + for 0s + group_wait 5s" in message
    assert "ACGS defaults used for group_wait (give --alertmanager-config)" in message
    assert "scrape/evaluation intervals" not in message
    # Offline, the ACGS defaults (15 s + 5 s + 5 s) meet the 30 s target.
    assert not _of(_lint(tmp_path, text, None), "alert/detection-latency")


def test_backtest_counts_fires_and_flaps(
    server: Server,
    tmp_path: Path,
    alert_file: AlertFile,
) -> None:
    fast = alert_file("demo_flag > 0", name="FlapsOften", for_="for: 0s")
    slow = alert_file("demo_flag > 0", name="WaitsLong", for_="for: 10m")
    both = fast + slow.split("    rules:\n", 1)[1]
    result = _lint(tmp_path, both, server.url, backtest_hours=4)
    by_name = {b.spec.name: b for b in result.backtests}
    assert (by_name["FlapsOften"].fires, by_name["FlapsOften"].flaps) == (
        FLAP_PHASES,
        FLAP_PHASES - 1,
    )
    assert by_name["FlapsOften"].series == 1
    assert by_name["WaitsLong"].fires == 0
    warned = _of(result, "alert/backtest")
    assert [f.rule for f in warned] == ["FlapsOften"]
    assert (
        f"fired {FLAP_PHASES} time(s) on 1 series ({FLAP_PHASES - 1} flap(s)" in warned[0].message
    )


def test_cli_json_and_text_carry_the_backtest(
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    alert_file: AlertFile,
) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(alert_file("demo_flag > 0", name="FlapsOften", for_="for: 0s"))
    base = ["lint", str(path), "--no-promtool", "--prometheus", server.url]
    assert main([*base, "--format", "json", "--backtest-hours", "4"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["backtest"][0]["alert"] == "FlapsOften"
    assert document["backtest"][0]["fires"] == FLAP_PHASES
    path.write_text(
        alert_file("demo_flag > 0", name="FlapsOften", for_="for: 0s")
        + alert_file("demo_flag > 5", name="NeverFires").split("    rules:\n", 1)[1]
    )
    main([*base, "--backtest-hours", "4", "--live-concurrency", "2"])
    out = capsys.readouterr().out
    assert "backtest: the last 4h" in out
    assert "FlapsOften" in out
    assert "1 other alert(s) would not have fired" in out
    table = out.split("backtest: the last 4h")[1].split("would not have fired")[0]
    assert "FlapsOften" in table
    assert "NeverFires" not in table


def test_play_applies_for_and_keep_firing_for() -> None:
    points = [0, 10, 20, 30, 100, 110]  # two runs, 70 s apart
    assert play(points, 10, for_s=0).fires == 2
    assert play(points, 10, for_s=25).fires == 1  # the second run lasts only 10 s
    assert play(points, 10, for_s=0, keep_firing_for_s=80).fires == 1  # held through the gap
    assert play(points, 10, for_s=0, flap_window_s=60).flaps == 0
    assert play(points, 10, for_s=0, flap_window_s=120).flaps == 1


def test_tls_and_credentials_from_the_environment(
    tmp_path: Path,
    certs: Certs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    alert_file: AlertFile,
) -> None:
    auth = WebAuth(certs.server_cert, certs.server_key, certs.ca, "linter", "s3cret-pass")
    path = tmp_path / "rules.yml"
    path.write_text(alert_file("demo_flgg > 0"))
    with live_prometheus(tmp_path / "tls", int(time.time()), auth=auth) as server:
        args = ["lint", str(path), "--no-promtool", "--prometheus", server.url, "--format", "json"]
        monkeypatch.setenv("PROMETHEUS_USERNAME", "linter")
        monkeypatch.setenv("PROMETHEUS_PASSWORD", "s3cret-pass")
        assert main([*args, "--ca-file", str(certs.ca), "--backtest-hours", "0"]) == 1
        found = json.loads(capsys.readouterr().out)["findings"]
        assert any(f["check"] == "promql/series" for f in found)
        monkeypatch.setenv("PROMETHEUS_PASSWORD", "wrong-pass")
        assert main([*args, "--ca-file", str(certs.ca)]) == 2
        error = capsys.readouterr().err
        assert "HTTP 401" in error
        assert "PROMETHEUS_PASSWORD" in error
        assert "wrong-pass" not in error
        assert error.count("\n") == 1
        assert main(args) == 2  # the system CAs do not trust the test CA
        assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err
        url = server.url.replace("https://", "https://linter:s3cret-pass@")
        assert main([*args[:4], url]) == 2
        error = capsys.readouterr().err
        assert "no credentials in the URL" in error
        assert "s3cret-pass" not in error


def test_a_server_that_is_not_prometheus_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], alert_file: AlertFile
) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(alert_file("up == 0"))
    with node_exporter(tmp_path / "node") as node:
        assert main(["lint", str(path), "--no-promtool", "--prometheus", node.url]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"acgs-rules: Prometheus {node.url}/api/v1/")
    assert "not a Prometheus API answer" in error
    assert error.count("\n") == 1


def test_an_unreachable_prometheus_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    alert_file: AlertFile,
) -> None:
    from acgs_testkit.ports import free_port

    path = tmp_path / "rules.yml"
    path.write_text(alert_file("up == 0"))
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["lint", str(path), "--no-promtool", "--prometheus", url]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"acgs-rules: Prometheus {url}/api/v1/")
    assert error.count("\n") == 1
