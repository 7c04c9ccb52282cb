"""nox sessions. Each session gets its own venv, filled from uv.lock (`uv sync --frozen`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
# What `nox` runs with no arguments: the fast suites (under 10 minutes on 2 cores). CI
# (`invoke test`) then runs the sessions tagged "long" (`nox -t long`); bench is on demand.
nox.options.sessions = ["lint", "typecheck", "tests", "lint_rules", "lint_dashboards", "stack"]
LONG = "long"

ROOT = Path(__file__).parent


def workspace_members() -> list[Path]:
    """The workspace's packages, as the root pyproject.toml lists them (the one list)."""
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    return sorted(path for pattern in workspace["members"] for path in ROOT.glob(pattern))


def relative(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(ROOT)) for path in paths]


MEMBERS = workspace_members()
# Each member's own tests, then the cross-package and whole-stack ones.
TEST_DIRS = [*(m / "tests" for m in MEMBERS if (m / "tests").is_dir()), ROOT / "tests"]
BENCHMARKS = sorted(
    [
        *(p for m in MEMBERS for p in m.glob("benchmarks/bench_*.py")),
        *ROOT.glob("tests/benchmarks/bench_*.py"),
    ]
)


def sync(session: nox.Session) -> None:
    """Install every workspace package and the dev tools, exactly as locked."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--all-packages",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


def parallel(workers: int) -> tuple[str, ...]:
    """pytest-xdist workers, each given whole files (module fixtures and in-file order hold).
    Most tests wait on servers (scrapes, rule evaluations, Alertmanager), so workers overlap
    well even on two busy cores. `nox -s tests -- -n 0` runs in one process (the last -n wins).
    """
    return ("-n", str(workers), "--dist", "loadfile")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and integration tests (real promtool, Prometheus, Alertmanager); not the stack."""
    sync(session)
    session.run(
        "pytest",
        *parallel(2),
        "-m",
        "not stack and not chaos and not ha",
        *relative(TEST_DIRS),
        *session.posargs,
    )


@nox.session
def stack(session: nox.Session) -> None:
    """The whole local stack in a temporary state dir on free ports; always torn down."""
    sync(session)
    # One worker per long file (perf ~4 min alone, backup, stack and its safety checks): each
    # worker's own stack mostly waits (for scrapes, alerts, Alertmanager's intervals).
    session.run(
        "pytest", *parallel(3), "-m", "stack and not chaos and not ha", "tests", *session.posargs
    )


def run_marked(session: nox.Session, marker: str, *paths: str, workers: int = 1) -> None:
    """pytest on the tests with ``marker`` (``workers`` test files at once); with none yet the
    session is skipped, saying so (pytest alone exits 5, "no tests collected", which would
    fail CI for a missing suite)."""
    listed = session.run(
        "pytest", "--collect-only", "-q", "-m", marker, *paths, silent=True, success_codes=[0, 5]
    )
    if "::" not in str(listed):
        session.skip(f"no test is marked {marker!r} in {', '.join(paths)}")
    spread = ("-n", str(workers), "--dist", "loadfile") if workers > 1 else ()
    session.run("pytest", *spread, "-m", marker, *paths, *session.posargs)


@nox.session(tags=[LONG])
def chaos(session: nox.Session) -> None:
    """Faults under load on the whole local stack (kill -9, restarts): minutes, so not a default."""
    sync(session)
    run_marked(session, "chaos", "tests")


@nox.session(tags=[LONG])
def ha(session: nox.Session) -> None:
    """Topology ha on the whole local stack (replicas, Alertmanager cluster, VictoriaMetrics,
    the query endpoint) and its faults: minutes, so not a default."""
    sync(session)
    # Each file deploys its own stack on free ports: two at once halve the wall time.
    run_marked(session, "ha", "tests", workers=2)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    sync(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on everything that runs: the packages, their scripts and benchmarks, the
    dashboard definitions, tasks.py and this file; then each test directory on its own (they
    all have a conftest module, so one run would see a name twice)."""
    sync(session)
    runnable = [
        *(m / "src" for m in MEMBERS),
        *(p for m in MEMBERS for p in m.glob("scripts/*.py")),
        *BENCHMARKS,
        *sorted(ROOT.glob("dashboards/*.py")),
        ROOT / "tasks.py",
        ROOT / "noxfile.py",
    ]
    session.run("mypy", *relative(runnable))
    for tests in TEST_DIRS:
        session.run("mypy", str(tests.relative_to(ROOT)))


@nox.session
def lint_rules(session: nox.Session) -> None:
    """Alert rules: promtool check and unit tests, then the acgs-rules linter on rules/ and on
    their PrometheusRule manifests (rendered by the kubernetes target)."""
    sync(session)
    rule_files = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("rules/*.yml"))
    test_files = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("rules/tests/*.yml"))
    session.run("promtool", "check", "rules", *rule_files, external=True)
    session.run("promtool", "test", "rules", *test_files, external=True)
    session.run("acgs-rules", "lint", "rules/", "--settings", "rules/config/acgs-rules.yml")
    # The same rules as the kubernetes target's PrometheusRule manifests. Test coverage was
    # checked above: the promtool tests name the rule files, not the manifests.
    tmp = Path(session.create_tmp())
    out, state = tmp / "kubernetes", tmp / "kubernetes-state"
    session.run(
        "invoke", "deploy", "--target", "kubernetes", "--out", str(out), "--state-dir", str(state)
    )
    session.run(
        "acgs-rules",
        "lint",
        str(out),
        "--settings",
        "rules/config/acgs-rules.yml",
        "--disable",
        "alert/test-coverage",
    )


@nox.session
def lint_dashboards(session: nox.Session) -> None:
    """Dashboards: build dashboards/*.py into a temporary dir, then lint what was built."""
    sync(session)
    out = Path(session.create_tmp()) / "grafana"
    session.run("acgs-dashboards", "build", "--out", str(out), "--source", "dashboards")
    settings = "rules/config/acgs-rules.yml"  # the one settings file of both linters
    session.run("acgs-dashboards", "lint", str(out / "dashboards"), "--settings", settings)


@nox.session
def refresh_exporter_metrics(session: nox.Session) -> None:
    """Rewrite the linters' exporter metric lists from the real exporters, running against
    real HAProxy, Redis and PostgreSQL (``-- NAME ...`` for some lists only); commit them."""
    sync(session)
    script = "packages/acgs-promql/scripts/scrape_known_metrics.py"
    session.run("python", script, *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: each prints its figures (ratios against the baseline it names)."""
    sync(session)
    wanted = set(session.posargs)
    for script in BENCHMARKS:
        if not wanted or script.stem in wanted:
            session.run("python", str(script.relative_to(ROOT)))
