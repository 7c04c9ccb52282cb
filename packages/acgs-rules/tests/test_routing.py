"""Routing coverage against an Alertmanager config, checked with the real amtool too."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from acgs_rules.alertmanager import (
    UNKNOWN,
    AlertmanagerConfigError,
    load_alertmanager_config,
    parse_matcher,
)
from acgs_rules.settings import LintSettings

Linter = Callable[..., Any]

CONFIG = """\
route:
  receiver: blackhole
  group_wait: 30s
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      group_wait: 5s
    - match: {team: db}
      receiver: blackhole
    - match_re: {severity: "warn.*"}
      receiver: chat
    - matchers: ['service="legacy"']
      receiver: chat
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname]
  - source_matchers: ['alertname="Nothing"']
    target_matchers: ['severity="info"']
receivers:
  - name: blackhole
  - name: pager
    pagerduty_configs: [{routing_key: placeholder}]
  - name: chat
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
"""


def rules(*alerts: tuple[str, str, dict[str, str]]) -> str:
    text = "groups:\n  - name: g\n    rules:\n"
    for name, expr, labels in alerts:
        label_text = ", ".join(f"{k}: {v}" for k, v in labels.items())
        text += (
            f"      - alert: {name}\n        expr: {expr}\n        for: 1m\n"
            f"        labels: {{{label_text}}}\n"
        )
    return text


@pytest.fixture
def am_config(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    return path


def test_reference_config_is_valid_for_amtool(am_config: Path) -> None:
    result = subprocess.run(
        ["amtool", "check-config", str(am_config)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_that_reach_no_one(lint_text: Linter, am_config: Path) -> None:
    text = rules(
        ("Paged", "up == 0", {"severity": "critical"}),
        ("Chatted", "up == 0", {"severity": "warning"}),
        ("Dropped", "sum by (job) (up) == 0", {"severity": "info"}),
        ("DbTeam", "up == 0", {"severity": "info", "team": "db"}),
        ("MaybeLegacy", "up == 0", {"severity": "info"}),  # service comes from the series
        ("NoLabels", "sum(up) == 0", {"severity": "info"}),  # no service label: surely dropped
    )
    found = lint_text(text, "alert/routing", settings=LintSettings(alertmanager_config=am_config))
    reached_no_one = sorted(f.rule for f in found if "reaches no one" in f.message)
    assert reached_no_one == ["DbTeam", "Dropped", "NoLabels"]


def test_routes_and_inhibit_rules_matching_no_alert(lint_text: Linter, am_config: Path) -> None:
    text = rules(("Paged", "sum(up) == 0", {"severity": "critical"}))
    settings = LintSettings(alertmanager_config=am_config)
    found = lint_text(text, "alert/routing", settings=settings)
    unmatched = sorted(f.message.split(" (")[0] for f in found if "matches none" in f.message)
    assert unmatched == [
        "inhibit_rules[0] target",
        "inhibit_rules[1] source",
        "inhibit_rules[1] target",
        "route.routes[1]",
        "route.routes[2]",
        "route.routes[3]",
    ]
    lines = {f.message.split(" (")[0]: f.line for f in found}
    assert lines["route.routes[1]"] == 8
    assert lines["inhibit_rules[1] source"] == 18


def test_group_wait_of_the_route_counts_in_detection_latency(
    lint_text: Linter, am_config: Path
) -> None:
    text = rules(("Slow", "up == 0", {"severity": "critical", "team": "db"}))
    settings = LintSettings(alertmanager_config=am_config)
    (finding,) = lint_text(text, "alert/detection-latency", settings=settings)
    assert "group_wait 5s" in finding.message  # the critical route's, not the default 30s


def test_bad_alertmanager_config_is_a_finding(lint_text: Linter, tmp_path: Path) -> None:
    broken = tmp_path / "am.yml"
    broken.write_text("route:\n  receiver: missing\nreceivers: [{name: x}]\n")
    text = rules(("A", "up == 0", {"severity": "critical"}))
    found = lint_text(text, "alert/routing", settings=LintSettings(alertmanager_config=broken))
    assert len(found) == 1
    assert "receiver 'missing', which is not defined" in found[0].message
    broken.write_text("receivers: []\n")
    with pytest.raises(AlertmanagerConfigError, match="no 'route'"):
        load_alertmanager_config(broken)


def test_matchers() -> None:
    matcher = parse_matcher('severity=~"warn.*"')
    assert matcher.evaluate(lambda _: "warning") is True
    assert matcher.evaluate(lambda _: None) is False
    assert matcher.evaluate(lambda _: UNKNOWN) is None
    assert parse_matcher("team!=db").evaluate(lambda _: "web") is True
    with pytest.raises(AlertmanagerConfigError):
        parse_matcher("no operator")
