"""The command-line options both linters take for a live Prometheus, for CI and for metric
sources in service code, defined once.

``add_live_arguments`` adds ``--prometheus URL``, ``--ca-file``, ``--live-concurrency`` and
``--lookback`` (credentials come from the environment, never from flags: see
:mod:`acgs_promql.live.client`); ``add_ci_arguments`` adds ``--format`` and
``--changed-from``; ``add_source_argument`` adds ``--source DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from acgs_promql.durations import parse_duration
from acgs_promql.live.client import ENV_BEARER_TOKEN, ENV_PASSWORD, ENV_USERNAME
from acgs_promql.printers import FORMATS

__all__ = [
    "add_ci_arguments",
    "add_live_arguments",
    "add_source_argument",
    "duration_argument",
    "positive_int",
]


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number above 0")
    return int(text)


def duration_argument(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_ci_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text for people (default), json for machines, github for workflow annotations "
        "on the pull request, sarif (2.1.0) for code scanning",
    )
    parser.add_argument(
        "--changed-from",
        metavar="REF",
        help="report only findings on lines changed since this git ref (committed or not; "
        "untracked files count in full), e.g. origin/main in a pull request",
    )


def add_live_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The live options, in a group the caller may add to."""
    live = parser.add_argument_group(
        "live Prometheus",
        f"Credentials come from ${ENV_USERNAME} and ${ENV_PASSWORD}, or ${ENV_BEARER_TOKEN}; "
        "never from flags.",
    )
    live.add_argument(
        "--prometheus",
        metavar="URL",
        help="check against this Prometheus: metrics without series, label values never "
        "seen, metric types from its metadata",
    )
    live.add_argument("--ca-file", type=Path, metavar="FILE", help="CA certificate for its TLS")
    live.add_argument(
        "--live-concurrency",
        type=positive_int,
        default=8,
        metavar="N",
        help="requests in flight at once (default 8)",
    )
    live.add_argument(
        "--lookback",
        type=duration_argument,
        default=86_400.0,
        metavar="DURATION",
        help="a metric or label value seen in this window exists (default 1d)",
    )
    return live


def add_source_argument(parser: argparse.ArgumentParser) -> None:
    """``--source DIR`` (repeatable): service code read for metric types and labels."""
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="Python service code whose prometheus_client / acgs_metrics definitions give "
        "metric types and labels (repeatable; adds to 'source' in the settings)",
    )
