"""How fast `invoke backfill` writes history: a demo stack deployed on free ports in a temporary
directory, then N hours (default 24) of history for everything it scrapes.

    uv run python packages/acgs-deploy/benchmarks/bench_backfill.py [--hours N]
    uv run nox -s bench -- bench_backfill

Prints the backfill's own table (targets, series, samples, samples per second, recording rule
levels, blocks) and the wall time of the whole command, Prometheus' block reloads included.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from acgs_deploy.backfill import print_report, run_backfill
from acgs_testkit.stack import deployed_stack

# Live series need a few scrapes before their rates can be extrapolated.
SETTLE_S = 35


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=24, help="hours of history (default 24)")
    args = parser.parse_args(argv)
    console = Console() if Console().is_terminal else Console(width=120)
    with (
        tempfile.TemporaryDirectory(prefix="acgs-bench-backfill-") as root,
        deployed_stack(Path(root)) as settings,
    ):
        time.sleep(SETTLE_S)
        began = time.monotonic()
        report = run_backfill(settings, args.hours, console=console)
        total = time.monotonic() - began
    print_report(report, console)
    console.print(
        f"{args.hours:g} h of history in {total:.0f} s wall "
        f"({report.samples_per_s:,.0f} scraped samples/s while writing)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
