"""acgs-dashboards build: deterministic JSON, provisioning shape, no secrets, clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from acgs_dashboards.build import PROVISIONING_ENV, BuildError, build_all
from acgs_dashboards.builders import PROVISIONED_DATASOURCE_UID, SCHEMA_VERSION
from acgs_dashboards.cli import main
from acgs_testkit.paths import REPO_ROOT

SOURCE = REPO_ROOT / "dashboards"
EXPECTED_UIDS = {
    "acgs-services-overview",
    "acgs-constitutional-governance",
    "acgs-infrastructure",
    "acgs-monitoring-stack",
    "acgs-slo",
}


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_build_is_byte_identical_across_runs_and_directories(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    build_all(first, SOURCE, dashboards_path="/var/lib/grafana/dashboards")
    build_all(second, SOURCE, dashboards_path="/var/lib/grafana/dashboards")
    assert _tree(first) == _tree(second)
    again = build_all(first, SOURCE, dashboards_path="/var/lib/grafana/dashboards")
    assert {p.name for p in again.dashboards} == {f"{uid}.json" for uid in EXPECTED_UIDS}
    assert _tree(first) == _tree(second)


def test_every_dashboard_follows_the_conventions(built: Path) -> None:
    for path in sorted((built / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        assert board["uid"] == path.stem
        assert board["schemaVersion"] == SCHEMA_VERSION
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        panels = [p for p in board["panels"] if p["type"] != "row"]
        panels += [q for p in board["panels"] if p["type"] == "row" for q in p.get("panels", [])]
        ids = [p["id"] for p in board["panels"]] + [
            q["id"] for p in board["panels"] for q in p.get("panels", [])
        ]
        assert len(ids) == len(set(ids))
        assert 0 not in ids
        for panel in panels:
            assert panel["description"], panel["title"]
            assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
                assert "$__interval" not in target["expr"]
                if "rate(" in target["expr"] and "$__range" not in target["expr"]:
                    fixed_windows = ("[5m]", "[1h]", "[6h]")
                    assert "[$__rate_interval]" in target["expr"] or any(
                        w in target["expr"] for w in fixed_windows
                    ), target["expr"]


def test_units_follow_the_catalog(built: Path) -> None:
    board = json.loads((built / "dashboards" / "acgs-constitutional-governance.json").read_text())
    units = {
        p["title"]: p["fieldConfig"]["defaults"]["unit"]
        for p in board["panels"]
        if p["type"] != "row"
    }
    assert units["Synthesis duration by type"] == "s"
    assert units["Compliance score by service"] == "percentunit"
    assert units["Synthesis rate by type"] == "ops"


def test_provisioning_files_name_env_variables_never_secrets(tmp_path: Path) -> None:
    os.environ["PROMETHEUS_PASSWORD"] = "do-not-write-me"
    try:
        result = build_all(tmp_path, SOURCE)
    finally:
        del os.environ["PROMETHEUS_PASSWORD"]
    texts = {p: p.read_text() for p in result.files}
    assert not any("do-not-write-me" in text for text in texts.values())
    datasources = yaml.safe_load((tmp_path / "provisioning/datasources/acgs.yml").read_text())
    (source,) = datasources["datasources"]
    assert datasources["apiVersion"] == 1
    assert source["uid"] == PROVISIONED_DATASOURCE_UID
    assert source["type"] == "prometheus"
    assert source["url"] == "$ACGS_PROMETHEUS_URL"
    assert source["basicAuth"] is True
    assert source["basicAuthUser"] == "$PROMETHEUS_USERNAME"
    assert source["secureJsonData"] == {
        "basicAuthPassword": "$PROMETHEUS_PASSWORD",
        "tlsCACert": "$ACGS_PROMETHEUS_CA_CERT",
    }
    referenced = {v.lstrip("$") for v in json.dumps(source).split('"') if v.startswith("$")}
    assert referenced == set(PROVISIONING_ENV)
    providers = yaml.safe_load((tmp_path / "provisioning/dashboards/acgs.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "ACGS"
    assert provider["options"]["path"] == str((tmp_path / "dashboards").resolve())
    assert {p.name for p in Path(provider["options"]["path"]).glob("*.json")} == {
        f"{uid}.json" for uid in EXPECTED_UIDS
    }


def test_stale_dashboards_are_removed(tmp_path: Path) -> None:
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "gone.json").write_text("{}")
    build_all(tmp_path, SOURCE)
    assert not (tmp_path / "dashboards" / "gone.json").exists()


def _definition(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(body)
    return path


def test_a_broken_definition_names_the_file_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "defs"
    good = (SOURCE / "slo.py").read_text()
    _definition(source, "a_good.py", good)
    broken = _definition(source, "b_broken.py", "def build():\n    return 1 / 0\n")
    out = tmp_path / "out"
    with pytest.raises(BuildError, match=r"b_broken\.py: build\(\) failed: ZeroDivisionError"):
        build_all(out, source)
    assert not out.exists()
    broken.write_text("x = 1\n")
    with pytest.raises(BuildError, match=r"b_broken\.py: define build\(\)"):
        build_all(out, source)
    _definition(source, "b_broken.py", good)
    with pytest.raises(BuildError, match="uid 'acgs-slo' is already used"):
        build_all(out, source)


def test_cli_build_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--out", str(tmp_path / "out"), "--source", str(SOURCE)]) == 0
    assert "acgs-slo.json" in capsys.readouterr().out
    assert main(["build", "--out", str(tmp_path / "x"), "--source", str(tmp_path / "none")]) == 2
    assert "not a directory of dashboard definitions" in capsys.readouterr().err


def test_build_does_not_depend_on_hash_seeds(tmp_path: Path) -> None:
    """Separate processes with different hash seeds write the same bytes."""
    import subprocess
    import sys

    trees = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        subprocess.run(
            [sys.executable, "-m", "acgs_dashboards.cli", "build", "--out", str(out),
             "--source", str(SOURCE), "--dashboards-path", "/grafana/dashboards"],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )  # fmt: skip
        trees.append(_tree(out))
    assert trees[0] == trees[1]
