"""Run everything: load the inputs, promtool, the static checks; filter and sort findings.

``lint(paths, settings)`` is what the CLI, nox and the tests call.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from acgs_promql.findings import Finding, Severity
from acgs_promql.live.backtest import AlertBacktest
from acgs_promql.repository import find_repo_root
from acgs_promql.sources.base import MetricSource
from acgs_promql.sources.code import read_code
from acgs_rules.alertmanager import (
    AlertmanagerConfig,
    AlertmanagerConfigError,
    load_alertmanager_config,
)
from acgs_rules.checks.registry import ALL_CHECK_NAMES, CHECKS
from acgs_rules.context import LintContext
from acgs_rules.live import LiveOptions, LiveSession
from acgs_rules.loader import Loaded, load
from acgs_rules.promconfig import read_config_file, with_intervals
from acgs_rules.promtool import check_rules
from acgs_rules.settings import LintSettings, SettingsError, unknown_checks_message


@dataclass
class LintResult:
    findings: list[Finding]
    files: int
    rules: int
    tests: int
    timings: dict[str, float] = field(default_factory=dict)
    # Files a directory walk found that are not rule files, manifests or test files.
    skipped: list[str] = field(default_factory=list)
    backtests: list[AlertBacktest] = field(default_factory=list)  # with --prometheus
    # (file, rule line) -> the rule's first and last line, for --changed-from.
    spans: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]


def _alertmanager(settings: LintSettings, findings: list[Finding]) -> AlertmanagerConfig | None:
    if settings.alertmanager_config is None:
        return None
    try:
        return load_alertmanager_config(settings.alertmanager_config)
    except AlertmanagerConfigError as error:
        findings.append(
            Finding(
                str(settings.alertmanager_config),
                0,
                "alert/routing",
                Severity.ERROR,
                f"cannot use the Alertmanager config: {error}",
            )
        )
        return None


def lint(
    paths: Sequence[Path],
    settings: LintSettings | None = None,
    *,
    promtool: bool = True,
    sources: Sequence[MetricSource] = (),
    prometheus_config: Path | None = None,
    live: LiveOptions | None = None,
) -> LintResult:
    """Lint rule files, manifests and test files under ``paths``.

    Metric types and labels come from the catalog, the rules, the exporter lists, the service
    code in ``settings.source`` and ``sources``, the live Prometheus of ``live``, then naming
    conventions. ``prometheus_config``: take the scrape and evaluation intervals from this
    Prometheus configuration; ``live`` also gives the live checks, the running
    configuration's intervals when no ``prometheus_config`` is given, and the backtests (see
    :mod:`acgs_rules.live`).

    Raises :class:`SettingsError` when the settings name checks that do not exist or the
    Prometheus configuration cannot be read, :class:`~acgs_promql.live.client.LiveError`
    when the live Prometheus cannot be.
    """
    settings = settings or LintSettings()
    named = (*settings.disabled_checks, *settings.severity_overrides)
    unknown = [name for name in named if name not in ALL_CHECK_NAMES]
    if unknown:
        raise SettingsError(unknown_checks_message(unknown))
    origin = _intervals_origin(settings)
    if prometheus_config is not None:
        settings = with_intervals(settings, read_config_file(prometheus_config))
        origin = str(prometheus_config)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    loaded: Loaded = load(paths, settings.max_file_size)
    timings["load"] = time.perf_counter() - started
    findings = list(loaded.findings)
    am = _alertmanager(settings, findings)
    root = settings.repo_root or find_repo_root(paths[0] if paths else Path.cwd())
    code = read_code(settings.source, settings.max_file_size) if settings.source else None
    if code is not None:
        findings.extend(code.findings)
        sources = (code, *sources)
    with ExitStack() as stack:
        started = time.perf_counter()
        session = stack.enter_context(LiveSession(live)) if live is not None else None
        if session is not None:
            sources = (*sources, session.source)
        ctx = LintContext(loaded, settings, am, root, sources, intervals_origin=origin)
        if session is not None:
            session.finish(ctx)
            timings["live"] = time.perf_counter() - started
    disabled = set(settings.disabled_checks)
    started = time.perf_counter()
    for check in CHECKS:
        if check.name in disabled:
            continue
        try:
            findings.extend(check.run(ctx))
        except Exception as error:  # a bug in a check must not hide the other findings
            findings.append(Finding.internal_error(check.name, error))
    timings["static"] = time.perf_counter() - started
    if promtool and "promtool/check" not in disabled:
        started = time.perf_counter()
        findings.extend(check_rules(loaded.rule_files))
        timings["promtool"] = time.perf_counter() - started
    findings = _apply_settings(findings, ctx)
    rules = sum(len(g.rules) for f in loaded.rule_files for g in f.groups)
    return LintResult(
        sorted(set(findings)),
        len(loaded.rule_files),
        rules,
        len(loaded.test_files),
        timings,
        loaded.skipped,
        list(ctx.backtests.values()),
        rule_spans(loaded),
    )


def rule_spans(loaded: Loaded) -> dict[tuple[str, int], tuple[int, int]]:
    """Each rule's lines: up to the next rule of its group, the last one to its last field
    (and the extra lines of a block scalar there)."""
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for rule_file in loaded.rule_files:
        for group in rule_file.groups:
            rules = sorted(group.rules, key=lambda r: r.line)
            for i, rule in enumerate(rules):
                following = rules[i + 1] if i + 1 < len(rules) else None
                if following is not None and following.line > rule.line:
                    end = following.line - 1
                else:
                    texts = [rule.expr, *rule.annotations.values(), *rule.labels.values()]
                    last = max(rule.field_lines.values(), default=rule.line)
                    end = last + max((t.count("\n") for t in texts), default=0)
                spans[(rule.path, rule.line)] = (rule.line, end)
    return spans


def _intervals_origin(settings: LintSettings) -> str:
    """``"the settings"`` when a settings file gave the intervals, else "" (defaults)."""
    given = {"scrape_interval", "evaluation_interval", "job_scrape_intervals"}
    return "the settings" if given & settings.model_fields_set else ""


def _apply_settings(findings: list[Finding], ctx: LintContext) -> list[Finding]:
    silenced_rules = {(r.path, r.line): r for r in ctx.rules()}
    file_disabled = {f.path: f.disabled for f in ctx.loaded.rule_files}
    overrides = ctx.settings.severity_overrides
    kept: list[Finding] = []
    for finding in findings:
        if finding.check in ctx.settings.disabled_checks:
            continue
        off = file_disabled.get(finding.path, frozenset())
        if finding.check in off or "all" in off:
            continue
        rule = silenced_rules.get((finding.path, finding.anchor))
        if rule is not None and rule.silenced(finding.check):
            continue
        if finding.check in overrides:
            finding = Finding(
                finding.path,
                finding.line,
                finding.check,
                overrides[finding.check],
                finding.message,
                finding.rule,
                finding.anchor,
            )
        kept.append(finding)
    return kept
