"""Deploy benchmark: cold `invoke deploy --demo` to all healthy, then an idempotent redeploy.

Targets (issues 5 and 16): cold under 20 s, redeploy under 3 s on the project machine (2
cores), with the demo infrastructure (HAProxy, Redis, PostgreSQL and their exporters: the
first deploy also runs initdb); the cold deploy without it (--no-infra) for comparison.
Each round uses a fresh temporary state directory on free ports (secrets, certificates,
bcrypt hash, config render and validation, process start, health through TLS and auth) and
is torn down afterwards. A round where an infrastructure part was left out stops the bench:
its time would not be the whole stack's. Prints the medians; run with
`nox -s bench -- bench_deploy`.
"""

from __future__ import annotations

import json
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


def left_out(state: Path) -> dict[str, str]:
    found = json.loads((state / "deploy.json").read_text()).get("left_out", {})
    return dict(found)


def rounds(*flags: str, redeploys: int) -> tuple[list[float], list[float]]:
    """Cold deploys with `flags`, each followed by `redeploys` idempotent ones."""
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(ROUNDS):
        ports = {f"ACGS_{field.upper()}": str(port) for field, port in free_stack_ports().items()}
        env = {**os.environ, **ports}
        with tempfile.TemporaryDirectory(prefix="acgs-bench-") as scratch:
            # PostgreSQL runs as the postgres user, which must reach its data directory.
            Path(scratch).chmod(0o711)
            state = Path(scratch) / "state"
            try:
                cold.append(invoke("deploy", state, env, "--demo", *flags))
                if left_out(state):
                    raise SystemExit(f"left out, not measured: {left_out(state)}")
                warm.extend(invoke("deploy", state, env, "--demo") for _ in range(redeploys))
            finally:
                invoke("down", state, env)
    return cold, warm


def main() -> None:
    console = Console()
    cold, warm = rounds(redeploys=REDEPLOYS)
    bare, _ = rounds("--no-infra", redeploys=0)
    table = Table(title="invoke deploy --demo (median of runs, seconds)")
    for column in ("case", "runs", "median s", "min s", "max s", "target s"):
        table.add_column(column)
    for name, runs, target in (
        ("cold to all healthy, with infrastructure", cold, 20),
        ("idempotent redeploy, with infrastructure", warm, 3),
        ("cold to all healthy, --no-infra", bare, 20),
    ):
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
