"""The rule set loads and evaluates on the real Prometheus 2.42, with no rule errors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from acgs_testkit import servers
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_port
from acgs_testkit.servers import self_scrape_config
from acgs_testkit.waiting import poll

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


def loaded_rules(url: str) -> list[dict[str, Any]]:
    data = get_json(f"{url}/api/v1/rules")["data"]
    assert isinstance(data, dict)
    return [r for g in data["groups"] for r in g["rules"]]


def was_evaluated(rule: dict[str, Any]) -> bool:
    return str(rule.get("lastEvaluation", "")).startswith("20")


def test_every_rule_evaluates_without_error(prometheus: str) -> None:
    rules = poll(
        lambda: loaded_rules(prometheus),
        lambda rules: all(map(was_evaluated, rules)),
        timeout_s=30,
        every_s=0.5,
    )
    evaluated = [r for r in rules if was_evaluated(r)]
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
