"""``acgs-dashboards``: build, lint and measure the ACGS Grafana dashboards.

Exit codes, as ``acgs-rules``: 0 fine (warnings allowed); 1 lint errors (lint: a missing
path or an unreadable dashboard or rule file is an error finding too) or failed queries
(queryload); 2 bad usage (unknown flag or check name, a scrape interval not above 0), or a
dashboard queryload cannot run.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from acgs_dashboards.build import BuildError, build_all
from acgs_dashboards.lint import LintOptions, LintUsageError, lint_paths
from acgs_dashboards.lint.base import DEFAULT_DATASOURCE_UIDS
from acgs_dashboards.lint.settings import DashboardSettings, read_settings
from acgs_dashboards.queryload import QueryLoadError
from acgs_promql.changes import ChangesError, changed_lines, only_changed
from acgs_promql.checks.registry import BY_NAME
from acgs_promql.findings import Finding
from acgs_promql.index import read_recorded_series
from acgs_promql.limits import DEFAULT_MAX_FILE_SIZE, format_size, size_argument
from acgs_promql.live.arguments import (
    add_ci_arguments,
    add_live_arguments,
    add_source_argument,
)
from acgs_promql.live.client import LiveError, connect
from acgs_promql.live.source import LiveSource
from acgs_promql.printers import (
    CheckDoc,
    exit_code,
    print_text,
    write_github,
    write_json,
    write_sarif,
)
from acgs_promql.settings import DEFAULT_SETTINGS_FILE, SettingsFileError, default_settings_file
from acgs_promql.sources.base import MetricSource
from acgs_promql.sources.code import SOURCE_LOAD, read_code

USAGE_ERROR = 2


def _seconds(text: str) -> float:
    """A scrape interval: a number of seconds above 0 (0 would divide the rate windows)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: the scrape interval must be above 0 s")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acgs-dashboards",
        description="ACGS Grafana dashboards as code: build, lint, measure their query load.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_build(commands)
    _add_lint(commands)
    commands.add_parser("checks", help="list the lint checks")
    _add_queryload(commands)
    return parser


def _add_build(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    build = commands.add_parser(
        "build",
        help="write dashboard JSON and Grafana provisioning files",
        description="Build dashboards/*.py into OUT/dashboards/*.json and "
        "OUT/provisioning/{datasources,dashboards}/acgs.yml. Same input, same bytes.",
    )
    build.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    build.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="dashboard definitions (default: the repository's dashboards/, or "
        "$ACGS_DASHBOARDS_DIR)",
    )
    build.add_argument(
        "--dashboards-path",
        metavar="PATH",
        help="where Grafana reads the dashboard JSON (default: OUT/dashboards, absolute); "
        "a container passes its mount point",
    )


def _add_lint(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lint = commands.add_parser(
        "lint",
        help="lint Grafana dashboard JSON files",
        description='Lint Grafana dashboards (bare or wrapped as {"dashboard": ...}). '
        "Exit 1 when any finding is an error. Silence a check with "
        "'acgs-dashboards disable=CHECK' in a panel or dashboard description, or as a "
        "PromQL comment in the query.",
    )
    lint.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    add_ci_arguments(lint)
    add_live_arguments(lint)
    lint.add_argument(
        "--datasource-uid",
        action="append",
        default=[],
        metavar="UID",
        help=f"a provisioned datasource uid panels may name (repeatable; always allowed: "
        f"{', '.join(sorted(DEFAULT_DATASOURCE_UIDS))})",
    )
    lint.add_argument(
        "--rules",
        action="append",
        type=Path,
        metavar="PATH",
        help="rule files or directories whose recording rules define metrics (repeatable; "
        "default: 'rules' in the dashboards section of the settings, else ./rules when it "
        "exists; nothing is searched for upwards); a file that does not load is an error "
        "finding",
    )
    lint.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="settings file shared with acgs-rules (shared fields plus a 'dashboards:' "
        f"section; default: {DEFAULT_SETTINGS_FILE} in the current directory, if any)",
    )
    add_source_argument(lint)
    lint.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="CHECK",
        help="skip a check (repeatable); see 'acgs-dashboards checks'",
    )
    lint.add_argument(
        "--scrape-interval",
        type=_seconds,
        metavar="SECONDS",
        help="global scrape interval, for the rate-window check (default: scrape_interval "
        "in the settings, else 15)",
    )
    lint.add_argument(
        "--target-label",
        action="append",
        default=[],
        metavar="LABEL",
        help="a label your scrape configs add to every series (repeatable; job and instance "
        "always count)",
    )
    lint.add_argument(
        "--max-file-size",
        type=size_argument,
        metavar="SIZE",
        help=f"refuse dashboard, rule and source files larger than this (e.g. 20MiB; default: "
        f"max_file_size in the settings, else {format_size(DEFAULT_MAX_FILE_SIZE)}); a "
        "refused file is an error finding, the others are linted",
    )


def _add_queryload(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    load = commands.add_parser(
        "queryload",
        help="run dashboards' queries against Prometheus as Grafana would, and time them",
        description="Run each dashboard's queries over its default time range (variables "
        "expanded to All, step from each panel's max data points) and report per-panel "
        "latency and series, and the dashboard total. The basic auth password is read from "
        "$PROMETHEUS_PASSWORD, never from the command line. Exit 1 when a query fails or "
        "a dashboard takes longer than --budget-ms.",
    )
    load.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="dashboard JSON files or dirs"
    )
    load.add_argument(
        "--url", required=True, help="Prometheus base URL, e.g. https://127.0.0.1:9090"
    )
    load.add_argument("--ca-file", type=Path, metavar="FILE", help="CA certificate for TLS")
    load.add_argument("--username", help="basic auth user (password from $PROMETHEUS_PASSWORD)")
    load.add_argument(
        "--scrape-interval",
        type=_seconds,
        default=15.0,
        metavar="SECONDS",
        help="the datasource's scrape interval, for $__rate_interval (default 15)",
    )
    load.add_argument(
        "--budget-ms", type=float, metavar="MS", help="fail a dashboard slower than this"
    )
    load.add_argument("--include-collapsed", action="store_true", help="also run collapsed rows")
    load.add_argument("--format", choices=("text", "json"), default="text")


def _queryload(args: argparse.Namespace) -> int:
    from acgs_dashboards.report import run_files

    password = os.environ.get("PROMETHEUS_PASSWORD")
    if args.username and not password:
        print("acgs-dashboards queryload: --username needs $PROMETHEUS_PASSWORD", file=sys.stderr)
        return USAGE_ERROR
    auth = httpx.BasicAuth(args.username, password or "") if args.username else None
    verify: ssl.SSLContext | bool = True
    if args.ca_file:
        try:
            verify = ssl.create_default_context(cafile=str(args.ca_file))
        except (OSError, ssl.SSLError) as error:
            print(f"acgs-dashboards queryload: --ca-file {args.ca_file}: {error}", file=sys.stderr)
            return USAGE_ERROR
    try:
        with httpx.Client(base_url=args.url, auth=auth, verify=verify, timeout=60) as client:
            return run_files(
                args.paths,
                client,
                json_output=args.format == "json",
                scrape_interval_s=args.scrape_interval,
                budget_ms=args.budget_ms,
                include_collapsed=args.include_collapsed,
            )
    except (LintUsageError, QueryLoadError) as error:
        print(f"acgs-dashboards queryload: {error}", file=sys.stderr)
        return USAGE_ERROR


def _build(args: argparse.Namespace) -> int:
    try:
        result = build_all(args.out, source_dir=args.source, dashboards_path=args.dashboards_path)
    except BuildError as error:
        print(f"acgs-dashboards build: {error}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as error:
        print(f"acgs-dashboards build: cannot write {args.out}: {error}", file=sys.stderr)
        return USAGE_ERROR
    for path in result.files:
        print(path)
    return 0


def _settings(args: argparse.Namespace, check_names: Sequence[str]) -> DashboardSettings:
    """The settings file's fields, then the flags (lists add up, single values replace)."""
    settings_file = args.settings or default_settings_file()
    found = read_settings(settings_file, check_names) if settings_file else {}
    for name, flags in (
        ("disabled_checks", args.disable),
        ("target_labels", args.target_label),
        ("datasource_uids", args.datasource_uid),
        ("sources", [str(p) for p in args.source]),
    ):
        found[name] = [*found.get(name, []), *flags]
    if args.rules is not None:
        found["rules"] = [str(p) for p in args.rules]
    elif "rules" not in found and Path("rules").is_dir():
        found["rules"] = ["rules"]
    if args.scrape_interval is not None:
        found["scrape_interval_s"] = args.scrape_interval
    if args.max_file_size is not None:
        found["max_file_size"] = args.max_file_size
    return found


def _lint(args: argparse.Namespace) -> int:
    from acgs_dashboards.lint.checks import ALL_CHECK_NAMES

    def fail(message: str) -> int:
        print(f"acgs-dashboards lint: {message}", file=sys.stderr)
        return USAGE_ERROR

    unknown = [name for name in args.disable if name not in ALL_CHECK_NAMES]
    if unknown:
        return fail(f"unknown check(s) {', '.join(unknown)}; see 'acgs-dashboards checks'")
    try:
        found = _settings(args, ALL_CHECK_NAMES)
    except SettingsFileError as error:
        return fail(str(error))
    max_size = found.get("max_file_size", DEFAULT_MAX_FILE_SIZE)
    rules = read_recorded_series([Path(p) for p in found.get("rules", [])], max_size)
    extra = list(rules.findings)
    sources: tuple[MetricSource, ...] = ()
    if found["sources"]:
        code = read_code([Path(p) for p in found["sources"]], max_size)
        extra.extend(code.findings)
        sources = (code,)
    options = LintOptions(
        datasource_uids=DEFAULT_DATASOURCE_UIDS | set(found["datasource_uids"]),
        scrape_interval_s=found.get("scrape_interval_s", 15.0),
        recorded=rules.series,
        target_labels=frozenset({"job", "instance", *found["target_labels"]}),
        disabled_checks=frozenset(found["disabled_checks"]),
        severity_overrides=found.get("severity_overrides", {}),
        extra_metrics=tuple(found.get("extra_metrics", [])),
        sources=sources,
        max_file_size=max_size,
    )
    try:
        changes = changed_lines(args.changed_from, args.paths[0]) if args.changed_from else None
        with ExitStack() as stack:
            if args.prometheus:
                client = stack.enter_context(
                    connect(args.prometheus, args.ca_file, concurrency=args.live_concurrency)
                )
                live = LiveSource(
                    client, lookback_s=args.lookback, concurrency=args.live_concurrency
                )
                options = replace(options, sources=(*options.sources, live))
            report = lint_paths(args.paths, options, extra_findings=extra)
    except (LiveError, ChangesError) as error:
        return fail(str(error))
    findings = report.findings
    if changes is not None:
        findings = only_changed(findings, changes)
    _write(findings, report.dashboards, args.format)
    return exit_code(findings)


def _write(findings: list[Finding], dashboards: int, form: str) -> None:
    from acgs_dashboards.lint.checks import CHECKS

    if form == "github":
        write_github(findings, sys.stdout)
    elif form == "sarif":
        docs = {c.name: CheckDoc(c.summary, _doc_page(c.name)) for c in CHECKS}
        write_sarif(findings, "acgs-dashboards", docs, sys.stdout)
    elif form == "json":
        write_json(findings, {"dashboards": dashboards}, sys.stdout)
    else:
        print_text(findings, f"{dashboards} dashboard(s)", Console())


def _doc_page(check: str) -> str:
    """The PromQL checks' own pages; the dashboard checks' sections of docs/checks.md."""
    shared = BY_NAME.get(check)
    if shared is not None:
        return f"packages/acgs-promql/{shared.doc_page}"
    return f"packages/acgs-dashboards/docs/checks.md#{check.replace('/', '')}"


def _checks() -> int:
    from acgs_dashboards.lint.checks import CHECKS

    table = Table(title="acgs-dashboards lint checks")
    table.add_column("check")
    table.add_column("catches")
    table.add_row("dashboard/load", "missing paths, files that are not JSON or not a dashboard")
    table.add_row("rules/load", "rule files (--rules) that do not load")
    table.add_row(SOURCE_LOAD, "service code (--source) that cannot be read")
    for check in CHECKS:
        table.add_row(check.name, check.summary)
    Console().print(table)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        return _build(args)
    if args.command == "queryload":
        return _queryload(args)
    if args.command == "checks":
        return _checks()
    return _lint(args)


if __name__ == "__main__":
    sys.exit(main())
