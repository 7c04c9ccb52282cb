"""acgs-dashboards queryload against a real Prometheus that demands TLS and basic auth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from acgs_dashboards.cli import main
from acgs_testkit.ca import Certs
from acgs_testkit.servers import WebAuth, prometheus

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[tuple[str, Path]]:
    auth = WebAuth(certs.server_cert, certs.server_key, certs.ca, "admin", PASSWORD)
    workdir = tmp_path_factory.mktemp("tls")
    with prometheus(workdir, "global: {scrape_interval: 15s}\n", auth=auth) as server:
        yield server.url, certs.ca


def test_queryload_over_tls_with_basic_auth(
    secured: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, ca = secured
    board = tmp_path / "b.json"
    board.write_text(
        json.dumps(
            {
                "title": "one",
                "uid": "one",
                "time": {"from": "now-5m", "to": "now"},
                "panels": [{"type": "stat", "title": "p", "targets": [{"expr": "vector(1)"}]}],
            }
        )
    )
    args = ["queryload", str(board), "--url", url, "--ca-file", str(ca), "--format", "json"]
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    assert main([*args, "--username", "admin"]) == 0
    out = capsys.readouterr().out
    (report,) = json.loads(out)
    assert report["panels"][0]["series"] == 1
    assert PASSWORD not in out
    monkeypatch.setenv("PROMETHEUS_PASSWORD", "wrong")
    assert main([*args, "--username", "admin"]) == 1  # every query answered 401
    (report,) = json.loads(capsys.readouterr().out)
    # The status and what the server said, not "Expecting value: line 1 column 1".
    (query,) = report["panels"][0]["queries"]
    assert query["error"].startswith("HTTP 401 Unauthorized, not a Prometheus JSON reply: ")
    assert "Unauthorized" in query["error"].split(": ", 1)[1]
    assert main([a for a in args if a not in ("--ca-file", str(ca))] + ["--username", "admin"]) == 1


def test_variable_errors_are_shown_in_the_table_and_json(
    secured: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, ca = secured
    board = tmp_path / "v.json"
    variable = {"name": "job", "type": "query", "query": "label_values(up{, job)"}
    board.write_text(
        json.dumps(
            {
                "title": "vars",
                "uid": "vars",
                "time": {"from": "now-5m", "to": "now"},
                "templating": {"list": [variable]},
                "panels": [{"type": "stat", "title": "p", "targets": [{"expr": "vector(1)"}]}],
            }
        )
    )
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    args = ["queryload", str(board), "--url", url, "--ca-file", str(ca), "--username", "admin"]
    assert main([*args, "--format", "json"]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    (error,) = report["variable_errors"]
    assert error.startswith("variable $job: ")
    assert "parse error" in error
    assert main(args) == 1
    table = capsys.readouterr().out
    assert "(variables)" in table
    assert "$job" in table
    assert "parse" in table
