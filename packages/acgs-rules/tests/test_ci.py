"""CI reporters (GitHub annotations, SARIF), diff mode with real git, and the intervals of
a real Prometheus configuration (--prometheus-config)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from acgs_rules.cli import main

AlertFile = Callable[..., str]
# What SARIF 2.1.0 requires of a log, a run, a tool, a rule and a result (the schema's
# "required" lists); no package on PyPI ships the OASIS schema file to validate against.
SARIF_LEVELS = {"none", "note", "warning", "error"}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().out


def test_github_annotations_escape_what_would_end_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], alert_file: AlertFile
) -> None:
    path = tmp_path / "a,b:c.yml"
    path.write_text(alert_file("rate(acgs_no_such_metric[5m]) > 0", name="Bad"))
    code, out = _run(["lint", str(path), "--no-promtool", "--format", "github"], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines
    assert all(line.startswith(("::error ", "::warning ")) for line in lines)
    unknown = next(line for line in lines if "title=promql/unknown-metric" in line)
    assert unknown.startswith(f"::error file={str(path).replace(',', '%2C').replace(':', '%3A')},")
    assert ",line=6," in unknown
    assert unknown.split("::", 2)[2].startswith("Bad: unknown metric 'acgs_no_such_metric'")


def test_sarif_log_has_every_required_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], alert_file: AlertFile
) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(alert_file("rate(acgs_no_such_metric[5m]) > 0", name="Bad"))
    code, out = _run(["lint", str(path), "--no-promtool", "--format", "sarif"], capsys)
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "acgs-rules"
    rules = driver["rules"]
    assert all(isinstance(rule["id"], str) for rule in rules)
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids))
    unknown = rules[ids.index("promql/unknown-metric")]
    assert unknown["helpUri"].endswith("packages/acgs-promql/docs/checks/promql-unknown-metric.md")
    assert run["results"]
    for result in run["results"]:
        assert result["message"]["text"]
        assert result["level"] in SARIF_LEVELS
        assert ids[result["ruleIndex"]] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"]
        assert location.get("region", {"startLine": 1})["startLine"] >= 1
    first = next(r for r in run["results"] if r["ruleId"] == "promql/unknown-metric")
    assert first["locations"][0]["physicalLocation"]["region"]["startLine"] == 6


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_changed_from_reports_only_what_changed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    alert_file: AlertFile,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    old = alert_file("rate(acgs_old_missing[5m]) > 0", name="Old")
    (repo / "old.yml").write_text(old)
    (repo / "edited.yml").write_text(old.replace("Old", "Edited").replace("name: g", "name: g1"))
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "feature")
    # A committed change to a rule's `for` (not its expression), and a new untracked file.
    edited = (repo / "edited.yml").read_text().replace("for: 1m", "for: 2m")
    (repo / "edited.yml").write_text(edited)
    _git(repo, "commit", "-qam", "edit")
    new = alert_file("rate(acgs_new_missing[5m]) > 0", name="New")
    (repo / "new.yml").write_text(new.replace("name: g", "name: g2"))
    monkeypatch.chdir(repo)
    args = ["lint", ".", "--no-promtool", "--format", "json", "--disable", "alert/test-coverage"]
    code, out = _run([*args, "--changed-from", "main"], capsys)
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    assert rules == {"Edited", "New"}  # the edited rule's expression finding counts too
    assert code == 1
    _, everything = _run(args, capsys)
    assert "Old" in {f["rule"] for f in json.loads(everything)["findings"]}
    assert main([*args, "--changed-from", "no-such-ref"]) == 2
    assert "'no-such-ref': not a commit in" in capsys.readouterr().err
    outside = tmp_path / "outside" / "rules.yml"
    outside.parent.mkdir()
    outside.write_text(old)
    assert main(["lint", str(outside), "--no-promtool", "--changed-from", "main"]) == 2
    assert f"{outside.parent} is not in a git repository" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # the repository is found from the paths linted
    code, out = _run([*args[:1], str(repo), *args[2:], "--changed-from", "main"], capsys)
    assert {f["rule"] for f in json.loads(out)["findings"]} == {"Edited", "New"}


def test_prometheus_config_sets_the_latency_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], alert_file: AlertFile
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        alert_file('up{job="api"} == 0', for_="for: 0s").replace("warning", "critical")
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1m}\n"
        "scrape_configs:\n  - job_name: api\n    scrape_interval: 10s\n"
    )
    args = ["lint", str(rules), "--no-promtool", "--format", "json"]
    _, out = _run([*args, "--prometheus-config", str(config)], capsys)
    (latency,) = [f for f in json.loads(out)["findings"] if f["check"] == "alert/detection-latency"]
    # The job's 10 s, Prometheus' default 1m evaluation interval, the default group_wait.
    assert "scrape 10s + evaluation 1m + for 0s + group_wait 5s" in latency["message"]
    assert "ACGS defaults used for group_wait (give --alertmanager-config)" in latency["message"]
    assert "scrape/evaluation" not in latency["message"]
    _, out = _run(args, capsys)
    defaults = [f for f in json.loads(out)["findings"] if f["check"] == "alert/detection-latency"]
    assert not defaults  # the ACGS defaults (15 s + 5 s + 5 s) meet 30 s
    config.write_text("global: {scrape_interval: soon}\n")
    assert main([*args, "--prometheus-config", str(config)]) == 2
    error = capsys.readouterr().err
    assert f"{config}: global.scrape_interval: not a duration: 'soon'" in error
