"""Deploy benchmark: cold `invoke deploy --demo` to all healthy, then an idempotent redeploy.

Targets (issue 5): cold under 20 s, redeploy under 3 s on the project machine (2 cores).
Each round uses a fresh temporary state directory on free ports (secrets, certificates,
bcrypt hash, config render and validation, process start, health through TLS and auth) and
is torn down afterwards. Prints the medians; run with `nox -s bench -- bench_deploy`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_stack_ports

ROUNDS = 3
REDEPLOYS = 3


def invoke(task: str, state: Path, env: dict[str, str], *extra: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "invoke", task, *extra, "--state-dir", str(state)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"invoke {task} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    console = Console()
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(ROUNDS):
        ports = {f"ACGS_{field.upper()}": str(port) for field, port in free_stack_ports().items()}
        env = {**os.environ, **ports}
        with tempfile.TemporaryDirectory(prefix="acgs-bench-") as scratch:
            state = Path(scratch) / "state"
            try:
                cold.append(invoke("deploy", state, env, "--demo"))
                warm.extend(invoke("deploy", state, env, "--demo") for _ in range(REDEPLOYS))
            finally:
                invoke("down", state, env)
    table = Table(title="invoke deploy --demo (median of runs, seconds)")
    for column in ("case", "runs", "median s", "min s", "max s", "target s"):
        table.add_column(column)
    for name, runs, target in (("cold to all healthy", cold, 20), ("idempotent redeploy", warm, 3)):
        table.add_row(
            name,
            str(len(runs)),
            f"{statistics.median(runs):.2f}",
            f"{min(runs):.2f}",
            f"{max(runs):.2f}",
            f"< {target}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
