"""``acgs-dashboards``: build, lint and measure the ACGS Grafana dashboards.

Exit codes: 0 fine; 1 lint errors (lint) or failed queries (queryload); 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from acgs_dashboards.build import BuildError, build_all
from acgs_dashboards.lint import (
    LintOptions,
    LintUsageError,
    exit_code,
    lint_paths,
    render_json,
    render_text,
)
from acgs_dashboards.lint.base import DEFAULT_DATASOURCE_UIDS

USAGE_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acgs-dashboards",
        description="ACGS Grafana dashboards as code: build, lint, measure their query load.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    lint = commands.add_parser(
        "lint",
        help="lint Grafana dashboard JSON files",
        description='Lint Grafana dashboards (bare or wrapped as {"dashboard": ...}). '
        "Exit 1 when any finding is an error. Silence a check with "
        "'acgs-dashboards disable=CHECK' in a panel or dashboard description, or as a "
        "PromQL comment in the query.",
    )
    lint.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    lint.add_argument("--format", choices=("text", "json"), default="text")
    lint.add_argument(
        "--datasource-uid",
        action="append",
        default=[],
        metavar="UID",
        help=f"a provisioned datasource uid panels may name (repeatable; always allowed: "
        f"{', '.join(sorted(DEFAULT_DATASOURCE_UIDS))})",
    )
    return parser


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


def _lint(args: argparse.Namespace) -> int:
    options = LintOptions(datasource_uids=DEFAULT_DATASOURCE_UIDS | set(args.datasource_uid))
    try:
        findings = lint_paths(args.paths, options)
    except LintUsageError as error:
        print(f"acgs-dashboards lint: {error}", file=sys.stderr)
        return USAGE_ERROR
    output = render_json(findings) if args.format == "json" else render_text(findings)
    if output:
        print(output)
    return exit_code(findings)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        return _build(args)
    return _lint(args)


if __name__ == "__main__":
    sys.exit(main())
