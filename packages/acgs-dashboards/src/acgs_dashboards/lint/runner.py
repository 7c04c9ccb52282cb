"""Run the checks over files and directories of dashboard JSON."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from acgs_dashboards.lint.base import Check, Context, Issue, LintOptions
from acgs_dashboards.lint.queries import PLACEHOLDER, dashboard_queries
from acgs_dashboards.model import (
    Dashboard,
    DashboardLoadError,
    disabled_checks,
    load_dashboard,
)
from acgs_promql.checks.base import CheckOptions
from acgs_promql.findings import Finding, Severity
from acgs_promql.index import MetricIndex
from acgs_promql.limits import too_large
from acgs_promql.live.source import LiveSource
from acgs_promql.settings import DECLARE_HINT

__all__ = [
    "LOAD_CHECK",
    "LintReport",
    "LintUsageError",
    "collect_files",
    "find_files",
    "lint_dashboards",
    "lint_paths",
]

LOAD_CHECK = "dashboard/load"


class LintUsageError(Exception):
    """A path given on the command line does not exist or holds no dashboards."""


@dataclass(frozen=True)
class LintReport:
    findings: list[Finding]
    dashboards: int

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]


def find_files(paths: Iterable[Path]) -> tuple[list[Path], list[Finding]]:
    """The JSON files named and every ``*.json`` under the directories named; a path that
    does not exist, or a directory without dashboards, is a ``dashboard/load`` finding (as
    the rule linter reports a missing path)."""
    files: list[Path] = []
    problems: list[Finding] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.rglob("*.json"))
            if not found:
                problems.append(
                    Finding(
                        str(path),
                        0,
                        LOAD_CHECK,
                        Severity.ERROR,
                        "no *.json dashboard files in this directory",
                    )
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(
                Finding(str(path), 0, LOAD_CHECK, Severity.ERROR, "no such file or directory")
            )
    return files, problems


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Like :func:`find_files`, but the first problem raises :class:`LintUsageError`."""
    files, problems = find_files(paths)
    if problems:
        raise LintUsageError(f"{problems[0].path}: {problems[0].message}")
    return files


def _silenced(dashboard: Dashboard, issue: Issue, check: str) -> bool:
    disabled = set(dashboard.disabled)
    if issue.panel is not None:
        disabled |= issue.panel.disabled
    if issue.target is not None:
        disabled |= issue.target.disabled
    if issue.variable is not None:
        disabled |= disabled_checks(issue.variable.raw.get("description"))
    return check in disabled or "all" in disabled


def _finding(dashboard: Dashboard, issue: Issue, check: str) -> Finding:
    line = issue.line
    rule = dashboard.title
    if issue.variable is not None:
        line = line or issue.variable.line
        rule = f"{dashboard.title} / ${issue.variable.name}"
    if issue.panel is not None:
        line = line or (issue.target.line if issue.target else issue.panel.line)
        title = issue.panel.title or f"panel {issue.panel.id}"
        rule = f"{dashboard.title} / {title}"
        if issue.target is not None:
            rule += f" / {issue.target.ref_id}"
    return Finding(
        path=dashboard.path,
        line=line or dashboard.line,
        check=check,
        severity=issue.severity,
        message=issue.message,
        rule=rule,
    )


def _crash(check: Check, error: Exception, dashboard: Dashboard | None) -> Finding:
    """A crashed check as a finding, pointing at the dashboard it was reading (if one)."""
    finding = Finding.internal_error(check.name, error)
    if dashboard is None:
        return finding
    return replace(finding, path=dashboard.path, line=dashboard.line, rule=dashboard.title)


def _run(check: Check, dashboards: Sequence[Dashboard], ctx: Context) -> list[Finding]:
    """The check's findings; a crash is one finding, and the other dashboards still count."""
    pairs: list[tuple[Dashboard, Issue]] = []
    crashes: list[Finding] = []
    if check.across is not None:
        try:
            pairs.extend(check.across(dashboards, ctx))
        except Exception as error:  # a bug in one check must not hide the others' findings
            crashes.append(_crash(check, error, dashboards[0] if len(dashboards) == 1 else None))
    if check.per_dashboard is not None:
        for dashboard in dashboards:
            try:
                found = list(check.per_dashboard(dashboard, ctx))
            except Exception as error:
                crashes.append(_crash(check, error, dashboard))
                continue
            pairs.extend((dashboard, issue) for issue in found)
    findings = [_finding(d, i, check.name) for d, i in pairs if not _silenced(d, i, check.name)]
    return findings + crashes


def lint_dashboards(
    dashboards: Sequence[Dashboard],
    options: LintOptions | None = None,
    checks: Sequence[Check] | None = None,
) -> list[Finding]:
    from acgs_dashboards.lint.checks import CHECKS

    options = options or LintOptions()
    promql = CheckOptions(
        target_labels=options.target_labels,
        extra_metrics=options.extra_metrics,
        declare_hint=DECLARE_HINT,
        placeholder=PLACEHOLDER,
    )
    live = next((s for s in options.sources if isinstance(s, LiveSource)), None)
    if live is None:
        ctx = Context(
            options, MetricIndex(recorded=options.recorded, sources=options.sources), promql
        )
    else:
        # A live source looks up only the names the queries read: read them first (the
        # queries are parsed once, kept in the context's cache).
        plain = Context(options, MetricIndex(recorded=options.recorded), promql)
        wanted = _read_names(dashboards, plain)
        index = MetricIndex(recorded=options.recorded, sources=options.sources, wanted=wanted)
        ctx = Context(options, index, replace(promql, live=live.view), cache=plain.cache)
    findings: list[Finding] = []
    for check in checks if checks is not None else CHECKS:
        if check.name not in options.disabled_checks:
            findings.extend(_run(check, dashboards, ctx))
    findings = [_overridden(f, options) for f in findings]
    return sorted(set(findings), key=lambda f: (f.path, f.line, f.check, f.message))


def _read_names(dashboards: Sequence[Dashboard], ctx: Context) -> frozenset[str]:
    names: set[str] = set()
    for dashboard in dashboards:
        for query in dashboard_queries(dashboard, ctx):
            analysis = query.expression.analysis
            if analysis is not None:
                names |= {n for n in analysis.metric_names if PLACEHOLDER not in n}
    return frozenset(names)


def _overridden(finding: Finding, options: LintOptions) -> Finding:
    severity = options.severity_overrides.get(finding.check)
    return finding if severity is None else replace(finding, severity=severity)


def lint_paths(
    paths: Iterable[Path],
    options: LintOptions | None = None,
    checks: Sequence[Check] | None = None,
    extra_findings: Iterable[Finding] = (),
) -> LintReport:
    """Lint every dashboard file under ``paths``; missing paths, unreadable files and files
    over ``options.max_file_size`` become findings. ``extra_findings`` (e.g. rule files that
    did not load) join the report, unless their check is disabled."""
    options = options or LintOptions()
    dashboards: list[Dashboard] = []
    files, findings = find_files(paths)
    findings.extend(extra_findings)
    for path in files:
        refused = too_large(path, options.max_file_size, "--max-file-size")
        if refused is not None:
            findings.append(Finding(str(path), 0, LOAD_CHECK, Severity.ERROR, refused))
            continue
        try:
            dashboards.append(load_dashboard(path))
        except DashboardLoadError as error:
            findings.append(Finding(str(path), error.line, LOAD_CHECK, Severity.ERROR, str(error)))
    unreadable = sum(f.check == LOAD_CHECK and f.line > 0 for f in findings)
    findings = [f for f in findings if f.check not in options.disabled_checks]
    findings.extend(lint_dashboards(dashboards, options, checks))
    findings.sort(key=lambda f: (f.path, f.line, f.check, f.message))
    return LintReport(findings, len(dashboards) + unreadable)
