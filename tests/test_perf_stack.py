"""health, perf, overhead and alerts-report against the real demo stack (short durations).

The stack (Prometheus, Alertmanager, node_exporter, acgs-sim, webhook receiver) is deployed
by the local backend into a temporary state directory on free ports and always
torn down. Run with `nox -s stack`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from acgs_deploy import commands
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.client import query, stack_client
from acgs_deploy.health import check_targets, expected_targets
from acgs_deploy.perf.detection import AlertmanagerAlerts
from acgs_deploy.perf.run import SIM_NOT_RUNNING
from acgs_deploy.settings import StackSettings
from acgs_testkit.stack import deployed_stack
from acgs_testkit.waiting import wait_for

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    # The tasks read the ports from the stack file, as a person running them would.
    with deployed_stack(tmp_path_factory.mktemp("perf-stack")) as settings:
        # Wait until every target has been scraped once (the global interval is 15 s).
        with stack_client(settings, "prometheus") as client:
            wait_for(
                lambda: check_targets(client, expected_targets(settings)).status == "ok",
                60,
                "every target up",
                every_s=1,
            )
        yield settings


def _run(
    command: Callable[..., int], settings: StackSettings, **options: object
) -> tuple[int, str]:
    console = Console(record=True, width=200)
    stack_file = settings.state_dir.parent / "stack.yml"
    code = command(state_dir=settings.state_dir, stack_file=stack_file, console=console, **options)
    return code, console.export_text()


def test_health_is_green_on_a_fresh_stack(deployed: StackSettings) -> None:
    code, text = _run(commands.health, deployed, output_format="json")
    body = json.loads(text)
    statuses = {c["name"]: c["status"] for c in body["checks"]}
    assert statuses["targets"] == "ok"
    assert statuses["rules"] == "ok"
    assert statuses["alertmanager"] == "ok"
    assert statuses["prometheus ready"] == "ok"
    assert statuses["certificates"] == "ok"
    assert statuses["last backup"] == "warn"  # none taken yet: a warning, not a failure
    assert body["healthy"] is True
    assert code == 0


def test_health_fails_when_a_service_stops_answering(deployed: StackSettings) -> None:
    import httpx

    gs = f"http://{deployed.sim_host}:{deployed.sim_base_port + 4}"
    httpx.post(f"{gs}/control/faults", json={"fault": "unresponsive"}, timeout=5)
    try:
        with stack_client(deployed, "prometheus") as client:
            wait_for(lambda: query(client, 'up{job="acgs-gs"} == 0'), 40, "acgs-gs down", 1)
        code, text = _run(commands.health, deployed, output_format="json")
    finally:
        httpx.delete(f"{gs}/control/faults", timeout=5)
    targets = next(c for c in json.loads(text)["checks"] if c["name"] == "targets")
    assert targets["status"] == "fail"
    assert targets["data"]["down_jobs"] == ["acgs-gs"]
    assert code == 1


def _fire_compliance_alert(settings: StackSettings) -> None:
    """Leave a compliance_drop fault on gs and wait until its alert is in Alertmanager."""
    import httpx

    gs = f"http://{settings.sim_host}:{settings.sim_base_port + 4}"
    httpx.post(f"{gs}/control/faults", json={"fault": "compliance_drop"}, timeout=5)
    labels = {"service": "gs"}
    with stack_client(settings, "alertmanager") as am:
        alerts = AlertmanagerAlerts(am)
        wait_for(
            lambda: not alerts.gone("ACGSComplianceScoreLow", labels),
            60,
            "ACGSComplianceScoreLow firing in Alertmanager",
            every_s=1,
        )


def test_perf_measures_every_target(deployed: StackSettings, tmp_path: Path) -> None:
    # A fault left behind: the alert is firing when detection starts; perf clears it first.
    _fire_compliance_alert(deployed)
    code, text = _run(
        commands.perf, deployed, users=200, duration=5.0, report=tmp_path, dashboard_runs=2,
        quiet_window=10.0, detection_trials=1,
    )  # fmt: skip
    report = json.loads((tmp_path / "report.json").read_text())
    names = [check["name"] for check in report["checks"]]
    assert "query latency p95" in names
    assert "alert detection" in names
    assert sum(name.startswith("dashboard ") for name in names) == 5
    assert {s["job"] for s in report["scrape"]} >= {"acgs-gs", "prometheus", "node_exporter"}
    load = report["load"]
    assert load["requests"] > 200
    assert load["summary"]["success_rate"] > 0.95
    assert 0 < load["generator_core_share"] < 1
    assert report["valid"] is True
    assert "load generator CPU" in names
    assert {p["name"] for p in report["overhead"]["processes"]} == {
        "prometheus", "alertmanager", "node_exporter"
    }  # fmt: skip
    detection = report["detection"]
    assert detection["timeouts"] == 0
    assert 0 < detection["times_s"][0] < 60
    assert detection["worst_case_s"] > 0
    assert (tmp_path / "latency-distribution.png").stat().st_size > 1000
    assert (tmp_path / "latency-over-time.png").stat().st_size > 1000
    assert code == (0 if report["passed"] else 1)
    assert "query latency p95" in text


def test_alerts_report_sees_the_injected_fault(deployed: StackSettings) -> None:
    # test_perf_measures_every_target injected compliance_drop on gs once.
    code, text = _run(commands.alerts_report, deployed, hours=1, output_format="json")
    body = json.loads(text)
    alerts = {a["alertname"]: a for a in body["alerts"]}
    assert alerts["ACGSComplianceScoreLow"]["firing_episodes"] >= 1
    assert alerts["ACGSComplianceScoreLow"]["suggestion"]
    assert code == 0


def test_overhead_alone(deployed: StackSettings) -> None:
    code, text = _run(commands.overhead, deployed, window=3.0, output_format="json")
    body = json.loads(text)
    assert {p["name"] for p in body["processes"]} == {"prometheus", "alertmanager", "node_exporter"}
    assert 0 < body["memory_share"] < 0.5
    assert code == (0 if body["passed"] else 1)


def test_perf_without_acgs_sim_says_detection_was_skipped(
    deployed: StackSettings, tmp_path: Path
) -> None:
    import os
    import signal

    import psutil

    sim = psutil.Process(LocalBackend(deployed).running()["acgs-sim"])
    os.kill(sim.pid, signal.SIGTERM)
    sim.wait(timeout=20)
    _, text = _run(
        commands.perf, deployed, users=5, duration=1.0, report=tmp_path, dashboard_runs=1,
        quiet_window=1.0, detection_trials=1,
    )  # fmt: skip
    report = json.loads((tmp_path / "report.json").read_text())
    row = next(c for c in report["checks"] if c["name"] == "alert detection")
    assert row == {
        "name": "alert detection",
        "target": "< 30 s",
        "measured": f"skipped: {SIM_NOT_RUNNING}",
        "passed": None,
    }
    assert report["detection"] == {"skipped": SIM_NOT_RUNNING}
    assert f"skipped: {SIM_NOT_RUNNING}" in " ".join(text.split())


def test_perf_on_a_stopped_stack_is_one_line_and_a_partial_report(
    deployed: StackSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Runs last in this module: it stops the stack (the fixture's down() is then a no-op).
    LocalBackend(deployed).down()
    code, _ = _run(commands.perf, deployed, users=5, duration=1.0, report=tmp_path,
                   dashboard_runs=1, quiet_window=1.0, detection_trials=0)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "perf:" in err
    assert "is the stack running?" in " ".join(err.split())
    assert "Traceback" not in err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] is False
    assert report["valid"] is False
    assert report["error"]


def test_a_missing_stack_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = commands.perf(state_dir=tmp_path / "nothing", users=1, duration=1.0, report=tmp_path)
    assert code == 1
    err = capsys.readouterr().err
    assert "perf:" in err
    assert "Traceback" not in err
