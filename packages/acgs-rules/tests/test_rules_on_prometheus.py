"""The rule set loads and evaluates on the real Prometheus 2.42, with no rule errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from acgs_metrics.ports import free_port

RULES = Path(__file__).resolve().parents[3] / "rules"


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        data: dict[str, object] = json.load(response)
        return data


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    """A Prometheus with the repository's rules, self-scraping every second."""
    port = free_port()
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in RULES.glob("*.yml"):
        shutil.copy(path, rules / path.name)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{rules}/*.yml']\n"
        "scrape_configs:\n"
        f"  - job_name: prometheus\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get_json(f"{base}/api/v1/status/buildinfo")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("Prometheus did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_every_rule_evaluates_without_error(prometheus: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        data = get_json(f"{prometheus}/api/v1/rules")["data"]
        assert isinstance(data, dict)
        rules = [r for g in data["groups"] for r in g["rules"]]
        evaluated = [r for r in rules if r.get("lastEvaluation", "").startswith("20")]
        if len(evaluated) == len(rules) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(rules) >= 40
    assert len(evaluated) == len(rules)
    unhealthy = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert unhealthy == []
    # The self-scrape makes the monitoring alerts' inputs real: none of them fires on a
    # healthy Prometheus.
    alerts = get_json(f"{prometheus}/api/v1/alerts")["data"]
    assert isinstance(alerts, dict)
    firing = {a["labels"]["alertname"] for a in alerts["alerts"] if a["state"] == "firing"}
    assert not firing & {
        "MonitoringTargetDown",
        "PrometheusRuleEvaluationFailures",
        "PrometheusConfigReloadFailed",
    }
