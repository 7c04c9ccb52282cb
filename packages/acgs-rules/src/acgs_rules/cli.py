"""``acgs-rules``: lint Prometheus rule files.

Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 bad usage or settings, a
Prometheus config that cannot be read, a live Prometheus that cannot be, or a
``--changed-from`` ref git does not know. With ``--changed-from`` only the findings on
changed lines count.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from acgs_promql.changes import ChangesError, changed_lines, only_changed
from acgs_promql.limits import DEFAULT_MAX_FILE_SIZE, format_size, size_argument
from acgs_promql.live.arguments import (
    add_ci_arguments,
    add_live_arguments,
    add_source_argument,
    duration_argument,
    positive_int,
)
from acgs_promql.live.client import LiveError
from acgs_promql.printers import (
    CheckDoc,
    exit_code,
    print_text,
    write_github,
    write_json,
    write_sarif,
)
from acgs_promql.settings import DEFAULT_SETTINGS_FILE, default_settings_file
from acgs_rules.checks.registry import ALL_CHECK_NAMES, CHECKS, OTHER_CHECK_NAMES
from acgs_rules.lint import LintResult, lint
from acgs_rules.live import LiveOptions, backtest_table
from acgs_rules.promtool import PromtoolMissing
from acgs_rules.settings import LintSettings, SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acgs-rules",
        description="Lint Prometheus alert and recording rules (files, directories, "
        "PrometheusRule manifests) with promtool and static checks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    lint_cmd = sub.add_parser(
        "lint",
        help="lint rule files and directories",
        description="Lint rule files. Exit 0: no errors; 1: errors; 2: bad usage or settings. "
        "Silence a check for one rule with a comment '# acgs-rules disable=CHECK' above it.",
    )
    lint_cmd.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="rule files, PrometheusRule manifests, promtool test files or "
        "directories holding them",
    )
    add_ci_arguments(lint_cmd)
    lint_cmd.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="settings file shared with acgs-dashboards (shared fields plus a 'rules:' "
        f"section; default: {DEFAULT_SETTINGS_FILE} in the current directory, if any)",
    )
    add_source_argument(lint_cmd)
    lint_cmd.add_argument(
        "--alertmanager-config",
        type=Path,
        metavar="FILE",
        help="Alertmanager config for the routing and latency checks (overrides the settings file)",
    )
    lint_cmd.add_argument(
        "--no-promtool", action="store_true", help="static checks only; skip 'promtool check rules'"
    )
    lint_cmd.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="CHECK",
        help="skip a check (repeatable); see 'acgs-rules checks'",
    )
    lint_cmd.add_argument(
        "--max-file-size",
        type=size_argument,
        metavar="SIZE",
        help="refuse input files larger than this (e.g. 20MiB; default: max_file_size in the "
        f"settings, else {format_size(DEFAULT_MAX_FILE_SIZE)}); a refused file is an error "
        "finding, the others are linted",
    )
    _add_live_arguments(lint_cmd)
    sub.add_parser("checks", help="list the checks and their doc pages")
    return parser


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not 0 <= value <= 24 * 90:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 (no backtest) to 2160 hours")
    return value


def _add_live_arguments(lint_cmd: argparse.ArgumentParser) -> None:
    live = add_live_arguments(lint_cmd)
    lint_cmd.add_argument(
        "--prometheus-config",
        type=Path,
        metavar="FILE",
        help="your prometheus.yml: its scrape and evaluation intervals for the latency and "
        "range checks (default: the live Prometheus' running config, else the settings)",
    )
    live.add_argument(
        "--backtest-hours",
        type=_hours,
        default=24.0,
        metavar="N",
        help="play every alert back over the last N hours (default 24; 0: no backtest)",
    )
    live.add_argument(
        "--backtest-step",
        type=duration_argument,
        default=60.0,
        metavar="DURATION",
        help="at least this far between backtest points (default 1m; finer counts blips "
        "shorter than it, at a cost; never finer than the group's interval)",
    )
    live.add_argument(
        "--backtest-max-fires",
        type=positive_int,
        default=5,
        metavar="N",
        help="alert/backtest warns about an alert that would have fired more often (default 5)",
    )


def skipped_line(skipped: list[str], shown: int = 3) -> str:
    """The one info line about files a directory walk left alone."""
    names = ", ".join(skipped[:shown]) + (
        f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    )
    return (
        f"info: skipped {len(skipped)} file(s) that are not rule files, PrometheusRule "
        f"manifests or promtool test files: {names}"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    if args.command == "checks":
        table = Table(title="acgs-rules checks")
        table.add_column("check")
        table.add_column("catches")
        table.add_column("doc")
        listed: set[str] = set()
        for check in CHECKS:
            if check.name not in listed:  # promql/compat has an expression and a file part
                listed.add(check.name)
                table.add_row(check.name, check.summary, check.doc_page)
        for name in OTHER_CHECK_NAMES:
            table.add_row(
                name,
                "input problems"
                if name != "promtool/check"
                else "what 'promtool check rules' reports",
                f"packages/acgs-rules/docs/checks/{name.replace('/', '-')}.md",
            )
        console.print(table)
        return 0

    def fail(message: str) -> int:
        sys.stderr.write(f"acgs-rules: {message}\n")
        return 2

    settings_file = args.settings or default_settings_file()
    try:
        settings = (
            LintSettings.from_file(settings_file, ALL_CHECK_NAMES)
            if settings_file
            else LintSettings()
        )
    except SettingsError as error:
        return fail(str(error))
    updates: dict[str, object] = {}
    if args.alertmanager_config:
        updates["alertmanager_config"] = args.alertmanager_config
    unknown = [name for name in args.disable if name not in ALL_CHECK_NAMES]
    if unknown:
        return fail(f"unknown check(s) {', '.join(unknown)}; see 'acgs-rules checks'")
    if args.max_file_size is not None:
        updates["max_file_size"] = args.max_file_size
    if args.disable:
        updates["disabled_checks"] = (*settings.disabled_checks, *args.disable)
    if args.source:
        updates["source"] = (*settings.source, *args.source)
    settings = settings.model_copy(update=updates)
    live = None
    if args.prometheus:
        live = LiveOptions(
            args.prometheus,
            args.ca_file,
            concurrency=args.live_concurrency,
            lookback_s=args.lookback,
            backtest_hours=args.backtest_hours,
            backtest_step_s=args.backtest_step,
            max_fires=args.backtest_max_fires,
        )
    try:
        changes = changed_lines(args.changed_from, args.paths[0]) if args.changed_from else None
        result = lint(
            args.paths,
            settings,
            promtool=not args.no_promtool,
            prometheus_config=args.prometheus_config,
            live=live,
        )
    except (PromtoolMissing, SettingsError, LiveError, ChangesError) as error:
        return fail(str(error))
    if changes is not None:
        result.findings = only_changed(result.findings, changes, result.spans)
    _write(result, args.format, console, args.backtest_hours)
    return exit_code(result.findings)


def _write(result: LintResult, form: str, console: Console, hours: float) -> None:
    if form == "github":
        write_github(result.findings, sys.stdout)
    elif form == "sarif":
        docs = {c.name: CheckDoc(c.summary, c.doc_page) for c in CHECKS}
        write_sarif(result.findings, "acgs-rules", docs, sys.stdout)
    elif form == "json":
        counts = {
            "files": result.files,
            "rules": result.rules,
            "test_files": result.tests,
            "skipped_files": len(result.skipped),
        }
        backtests = [b.as_dict() for b in result.backtests]
        write_json(
            result.findings, counts, sys.stdout, {"backtest": backtests} if backtests else None
        )
    else:
        read = f"{result.files} rule file(s), {result.rules} rule(s), {result.tests} test file(s)"
        if result.backtests:
            console.print(backtest_table(result.backtests, hours))
        print_text(result.findings, read, console)
        if result.skipped:
            console.print(Text(skipped_line(result.skipped)), highlight=False)


if __name__ == "__main__":
    raise SystemExit(main())
