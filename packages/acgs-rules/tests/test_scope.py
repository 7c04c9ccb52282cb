"""Group scopes (``# acgs: scope=global``) and the group/scope check."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from acgs_promql.findings import Finding
from acgs_rules.scope import GLOBAL, SHARD, ScopeError, group_scope, split_by_scope
from acgs_rules.settings import LintSettings
from acgs_testkit.paths import REPO_ROOT

Linter = Callable[..., list[Finding]]
ANNOTATIONS = (
    "labels: {severity: warning}\n"
    "        annotations: {summary: s, description: d, runbook_url: https://x.org}"
)


def rule_file(shard_expr: str, *, marked: bool = True, extra_global: str = "") -> str:
    """A shard group with one alert on ``shard_expr`` and a global group beside it."""
    marker = "  # acgs: scope=global\n" if marked else ""
    return f"""\
groups:
  - name: per-target
    rules:
      - alert: A
        expr: {shard_expr}
        for: 1m
        {ANNOTATIONS}
{marker}  - name: fleet
    rules:
      - record: service:acgs_http_requests:rate5m
        expr: sum by (service) (rate(acgs_http_requests_total[5m]))
{extra_global}"""


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        (
            "sum by (service) (rate(acgs_http_requests_total[5m])) > 1",
            "sum by (service) aggregates",
        ),
        ("count(up) < 140", "count aggregates over instances"),
        ("max without (instance) (up) == 0", "max without (instance) aggregates"),
        ("topk(3, scrape_duration_seconds) > 1", "topk aggregates over instances"),
        ('absent(up{job="acgs-gs"})', "absent() is true on every shard"),
        ("service:acgs_http_requests:rate5m < 1", "recorded by global group 'fleet'"),
    ],
)
def test_fleet_wide_rules_on_a_shard_are_errors(
    lint_text: Linter, expr: str, fragment: str
) -> None:
    found = lint_text(rule_file(expr), "group/scope")
    assert len(found) == 1, [f.message for f in found]
    (finding,) = found
    assert fragment in finding.message
    assert "mark the group '# acgs: scope=global'" in finding.message
    assert finding.rule == "A"
    assert finding.line == 5


@pytest.mark.parametrize(
    "expr",
    [
        "up == 0",
        "sum by (instance) (rate(acgs_http_requests_total[5m])) > 1",
        "sum without (status_code, endpoint) (rate(acgs_http_requests_total[5m])) > 1",
        "rate(acgs_http_requests_total[5m]) > 1",
        "vector(1)",
    ],
)
def test_per_target_rules_on_a_shard_are_fine(lint_text: Linter, expr: str) -> None:
    assert lint_text(rule_file(expr), "group/scope") == []


def test_the_same_rules_in_a_global_group_are_fine(lint_text: Linter) -> None:
    text = rule_file(
        "up == 0",
        extra_global="      - alert: B\n        expr: count(up) < 140\n        for: 1m\n"
        f"        {ANNOTATIONS}\n",
    )
    assert lint_text(text, "group/scope") == []


def test_off_without_markers_unless_the_settings_say_sharded(lint_text: Linter) -> None:
    text = rule_file("count(up) < 140", marked=False)
    assert lint_text(text, "group/scope") == []
    sharded = LintSettings(sharded=True)
    found = lint_text(text, "group/scope", settings=sharded)
    # Unmarked, the recording group is a shard group too.
    assert {f.rule for f in found} == {"A", "service:acgs_http_requests:rate5m"}
    marked = rule_file("count(up) < 140")
    assert lint_text(marked, "group/scope", settings=LintSettings(sharded=False)) == []


def test_a_silencing_comment_keeps_one_rule_on_the_shard(lint_text: Linter) -> None:
    text = rule_file("count(up) < 140").replace(
        "      - alert: A", "      # acgs-rules disable=group/scope\n      - alert: A"
    )
    assert lint_text(text, "group/scope") == []


def test_an_unknown_scope_is_a_schema_error(lint_text: Linter) -> None:
    text = rule_file("up == 0").replace("scope=global", "scope=everywhere")
    (finding,) = lint_text(text, "rule/schema")
    assert finding.line == 9
    assert "unknown scope 'everywhere'" in finding.message


def test_group_scope_reads_the_comment_block_above_the_group() -> None:
    lines = ["groups:", "  # about the group", "  # acgs: scope=global", "  - name: g"]
    assert group_scope(lines, 4).scope == GLOBAL
    assert group_scope(lines, 4).line == 3
    # A blank line ends the block: the marker belongs to no group there.
    spaced = ["groups:", "  # acgs: scope=global", "", "  - name: g"]
    assert group_scope(spaced, 4).scope == SHARD
    with pytest.raises(ScopeError) as raised:
        group_scope(["  - name: g  # acgs: scope=nope"], 1)
    assert raised.value.line == 1


def test_split_by_scope_keeps_every_group_once() -> None:
    text = rule_file("up == 0")
    split = split_by_scope(text)
    assert [g["name"] for g in split[SHARD]] == ["per-target"]
    assert [g["name"] for g in split[GLOBAL]] == ["fleet"]
    assert split[SHARD] + split[GLOBAL] == yaml.safe_load(text)["groups"]


def test_the_repository_rules_split_as_documented() -> None:
    """The global groups are the fleet-wide ones; the rest stays on the shards."""
    scopes: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "rules").glob("*.yml")):
        for scope, groups in split_by_scope(path.read_text()).items():
            scopes.update((group["name"], scope) for group in groups)
    assert {name for name, scope in scopes.items() if scope == SHARD} == {
        "acgs-services",
        "monitoring-stack",
        "node-resources",
        # The demo infrastructure: each alert is about the one target a shard scrapes.
        "infrastructure-haproxy",
        "infrastructure-redis",
        "infrastructure-postgresql",
        "infrastructure-exporters",
    }
    assert scopes["acgs-recording-slo"] == scopes["acgs-slo"] == GLOBAL
