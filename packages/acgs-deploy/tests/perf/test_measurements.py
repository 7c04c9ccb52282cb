"""Scrape latency, overhead, detection timing and the report, against real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from acgs_deploy.client import query
from acgs_deploy.perf.detection import (
    AlertmanagerAlerts,
    WebhookLog,
    configured_worst_case_s,
    measure_detection,
)
from acgs_deploy.perf.overhead import measure_overhead
from acgs_deploy.perf.report import (
    Check,
    all_passed,
    plot_latency_distribution,
    plot_latency_over_time,
    render_table,
    write_json,
)
from acgs_deploy.perf.scrape import scrape_latency
from acgs_deploy.perf.stats import Sample, percentile, summarize
from acgs_testkit.waiting import stop_process, wait_for

from ..conftest import Stack


def test_scrape_latency_per_job(stack: Stack) -> None:
    time.sleep(2)  # a few scrapes of each job
    with stack.prometheus.client() as client:
        results = {r.job: r for r in scrape_latency(client, window_s=60)}
        raw = query(client, 'scrape_duration_seconds{job="prometheus"}[60s]')
    assert set(results) == {"prometheus", "acgs-test", "absent"}
    values = sorted(float(v) * 1000 for _, v in raw[0]["values"])
    assert results["prometheus"].samples == len(values)
    assert results["prometheus"].p95_ms == pytest.approx(percentile(values, 95))
    assert results["prometheus"].max_ms == pytest.approx(values[-1])
    assert all(r.p95_ms > 0 for r in results.values())


def test_overhead_of_a_busy_and_an_idle_process() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        result = measure_overhead({"busy": busy.pid, "idle": idle.pid}, window_s=1.0, samples=4)
    finally:
        for process in (busy, idle):
            stop_process(process)
    usage = {p.name: p for p in result.processes}
    cores = os.cpu_count() or 1
    # A busy loop holds one core (at most 1/cores of the machine; the machine is shared).
    assert 0.2 / cores < usage["busy"].cpu_share <= 1.05 / cores
    assert usage["idle"].cpu_share < 0.02 / cores
    assert usage["idle"].rss_bytes > 1_000_000
    assert result.cpu_share == pytest.approx(usage["busy"].cpu_share + usage["idle"].cpu_share)
    assert not result.passed  # a busy core is far over 1 % of the machine


def test_overhead_names_a_process_that_is_gone() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    with pytest.raises(ProcessLookupError, match=r"prometheus \(pid"):
        measure_overhead({"prometheus": process.pid}, window_s=0.1, samples=1)


@pytest.mark.parametrize("source_kind", ["webhook", "alertmanager"])
def test_detection_time_from_fault_to_receiver(stack: Stack, source_kind: str) -> None:
    with stack.alertmanager.client() as am_client:
        api = AlertmanagerAlerts(am_client)
        source = WebhookLog(stack.webhook.log) if source_kind == "webhook" else api
        labels = {"service": "gs"}
        result = measure_detection(
            "TestFault",
            labels,
            inject=lambda: stack.fault.set(1),
            clear=lambda: stack.fault.set(0),
            source=source,
            quiet=lambda: api.gone("TestFault", labels),
            trials=2,
            timeout_s=30,
            settle_s=2,  # group_interval is 1 s here
        )
    assert result.timeouts == 0
    assert len(result.times_s) == 2
    # 1 s scrape + 1 s evaluation + Alertmanager's 1 s group_wait: well under 10 s, over 0.
    assert all(0 < t < 10 for t in result.times_s)
    assert result.passed


def test_an_alert_that_never_goes_quiet_names_itself(stack: Stack) -> None:
    labels = {"service": "gs"}
    stack.fault.set(1)  # a fault left behind that nobody clears
    try:
        with stack.alertmanager.client() as am_client:
            api = AlertmanagerAlerts(am_client)
            wait_for(lambda: not api.gone("TestFault", labels))
            with pytest.raises(
                TimeoutError, match=r"TestFault\{'service': 'gs'\} still active 2 s"
            ):
                measure_detection(
                    "TestFault", labels, inject=lambda: None, clear=lambda: None,
                    source=api, quiet=lambda: api.gone("TestFault", labels),
                    trials=1, timeout_s=2, settle_s=0,
                )  # fmt: skip
    finally:
        stack.fault.set(0)
    with stack.alertmanager.client() as am_client:
        wait_for(lambda: AlertmanagerAlerts(am_client).gone("TestFault", labels))


def test_worst_case_adds_the_configured_delays() -> None:
    assert configured_worst_case_s(5, 5, 15, 5) == 35


def test_report_files_and_verdict(tmp_path: Path) -> None:
    samples = [Sample(i * 0.01, 0.002 + (i % 100) / 1000, i % 50 != 0) for i in range(2000)]
    checks = [
        Check("p95", "< 500 ms", f"{summarize(samples).p95_ms:.0f} ms", True),
        Check("success", "> 95 %", "98 %", True),
        Check("generator CPU", "-", "3 %", None),
    ]
    assert all_passed(checks)
    assert not all_passed([*checks, Check("scrape", "< 100 ms", "120 ms", False)])
    write_json(tmp_path / "report.json", checks, {"summary": {"p50": float("nan")}})
    body = json.loads((tmp_path / "report.json").read_text())
    assert body["passed"] is True
    assert body["checks"][2]["passed"] is None
    assert body["summary"]["p50"] is None
    plot_latency_distribution(samples, tmp_path / "dist.png", 500)
    plot_latency_over_time(samples, tmp_path / "time.png", 500)
    for name in ("dist.png", "time.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    console = Console(record=True, width=120)
    render_table(checks, console, "perf")
    text = console.export_text()
    assert "pass" in text
    assert "info" in text
