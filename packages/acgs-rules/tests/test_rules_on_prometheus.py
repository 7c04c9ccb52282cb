"""The rule set loads and evaluates on the real Prometheus 2.42, with no rule errors."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from acgs_testkit import servers
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_port
from acgs_testkit.servers import self_scrape_config

RULES = REPO_ROOT / "rules"


def get_json(url: str) -> dict[str, object]:
    data: dict[str, object] = httpx.get(url, timeout=5).json()
    return data


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    """A Prometheus with the repository's rules, self-scraping every second."""
    port = free_port()
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in RULES.glob("*.yml"):
        shutil.copy(path, rules / path.name)
    config = self_scrape_config(port) + f"rule_files: ['{rules}/*.yml']\n"
    with servers.prometheus(tmp_path / "prometheus", config, port=port) as server:
        yield server.url


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
