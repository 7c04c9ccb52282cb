"""The dashboard linter's CI side: GitHub annotations, SARIF, --changed-from (real git), and
the live checks against a real Prometheus holding a known history (acgs_testkit.livedata)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acgs_dashboards.cli import main
from acgs_testkit.livedata import live_prometheus
from acgs_testkit.servers import Server

DS = {"type": "prometheus", "uid": "acgs-prometheus"}


def _board(*exprs: str, title: str = "Board") -> dict[str, Any]:
    panels = [
        {
            "id": i + 1,
            "type": "timeseries",
            "title": f"Panel {i + 1}",
            "description": "What it shows.",
            "datasource": DS,
            "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
            "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
            "targets": [{"refId": "A", "expr": expr, "datasource": DS}],
        }
        for i, expr in enumerate(exprs)
    ]
    return {"uid": title.lower(), "title": title, "schemaVersion": 41, "panels": panels}


def _write(path: Path, board: dict[str, Any]) -> Path:
    path.write_text(json.dumps(board, indent=2))
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().out


def test_github_and_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "b.json", _board("rate(acgs_no_such_metric[5m])"))
    code, out = _run(["lint", str(path), "--format", "github"], capsys)
    assert code == 1
    (line,) = [x for x in out.splitlines() if "title=promql/unknown-metric" in x]
    assert line.startswith(f"::error file={path},line=")
    assert "::Board / Panel 1 / A: unknown metric 'acgs_no_such_metric'" in line
    code, out = _run(["lint", str(path), "--format", "sarif"], capsys)
    assert code == 1
    (run,) = json.loads(out)["runs"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["promql/series"]["helpUri"].endswith("acgs-promql/docs/checks/promql-series.md")
    assert rules["panel/unit"]["helpUri"].endswith("acgs-dashboards/docs/checks.md#panelunit")
    (result,) = [r for r in run["results"] if r["ruleId"] == "promql/unknown-metric"]
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] > 1


def test_changed_from_keeps_the_changed_panels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    board = _board("rate(acgs_first_missing[5m])", "rate(acgs_second_missing[5m])")
    _write(repo / "b.json", board)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    board["panels"][1]["targets"][0]["expr"] = "rate(acgs_second_renamed[5m])"
    _write(repo / "b.json", board)
    monkeypatch.chdir(repo)
    code, out = _run(["lint", "b.json", "--format", "json", "--changed-from", "HEAD"], capsys)
    messages = [f["message"] for f in json.loads(out)["findings"]]
    assert code == 1
    assert any("acgs_second_renamed" in m for m in messages)
    assert not any("acgs_first_missing" in m for m in messages)
    assert main(["lint", "b.json", "--changed-from", "nope"]) == 2
    assert "'nope': not a commit" in capsys.readouterr().err


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with live_prometheus(tmp_path_factory.mktemp("live"), int(time.time())) as prometheus:
        yield prometheus


def test_live_checks_on_panels(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = _board(
        "demo_flgg",
        'demo_flag{instance="b"}',
        'sum(demo_flag{instance="a"}) or vector(0)',
        "rate(demo_requests_total[5m])",
    )
    path = _write(tmp_path / "b.json", board)
    args = ["lint", str(path), "--format", "json", "--prometheus", server.url, "--lookback", "6h"]
    code, out = _run(args, capsys)
    findings = json.loads(out)["findings"]
    series = [f for f in findings if f["check"] == "promql/series"]
    values = [f for f in findings if f["check"] == "promql/label-value"]
    assert [f["rule"] for f in series] == ["Board / Panel 1 / A"]
    assert "over the last 6h" in series[0]["message"]
    assert series[0]["severity"] == "error"
    assert code == 1
    assert [f["rule"] for f in values] == ["Board / Panel 2 / A"]
    _, offline = _run(args[:4], capsys)
    assert not [f for f in json.loads(offline)["findings"] if f["check"] == "promql/series"]
