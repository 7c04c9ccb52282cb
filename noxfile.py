"""nox sessions. Each session gets its own venv, filled from uv.lock (`uv sync --frozen`)."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
# What CI runs (`nox` with no arguments); bench is on demand.
nox.options.sessions = ["lint", "typecheck", "tests", "lint_rules", "lint_dashboards", "stack"]

ROOT = Path(__file__).parent
TEST_PATHS = [
    "packages/acgs-metrics/tests",
    "packages/acgs-promql/tests",
    "packages/acgs-rules/tests",
    "packages/acgs-dashboards/tests",
    "packages/acgs-deploy/tests",
    "exporters/acgs-sim/tests",
    "tests",
]


def sync(session: nox.Session) -> None:
    """Install every workspace package and the dev tools, exactly as locked."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--all-packages",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and integration tests (real promtool, Prometheus, Alertmanager); not the stack."""
    sync(session)
    existing = [path for path in TEST_PATHS if (ROOT / path).exists()]
    session.run("pytest", "-m", "not stack", *existing, *session.posargs)


@nox.session
def stack(session: nox.Session) -> None:
    """The whole local stack in a temporary state dir on free ports; always torn down."""
    sync(session)
    session.run("pytest", "-m", "stack", "tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    sync(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the packages and acgs-sim."""
    sync(session)
    session.run(
        "mypy",
        "packages/acgs-metrics/src",
        "packages/acgs-promql/src",
        "packages/acgs-rules/src",
        "packages/acgs-dashboards/src",
        "packages/acgs-deploy/src",
        "exporters/acgs-sim/src",
    )


@nox.session
def lint_rules(session: nox.Session) -> None:
    """Alert rules: promtool check and unit tests, then the acgs-rules linter on rules/."""
    sync(session)
    rule_files = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("rules/*.yml"))
    test_files = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("rules/tests/*.yml"))
    session.run("promtool", "check", "rules", *rule_files, external=True)
    session.run("promtool", "test", "rules", *test_files, external=True)
    session.run("acgs-rules", "lint", "rules/", "--settings", "rules/config/acgs-rules.yml")


@nox.session
def lint_dashboards(session: nox.Session) -> None:
    """Dashboards: build dashboards/*.py into a temporary dir, then lint what was built."""
    sync(session)
    out = Path(session.create_tmp()) / "grafana"
    session.run("acgs-dashboards", "build", "--out", str(out), "--source", "dashboards")
    session.run("acgs-dashboards", "lint", str(out / "dashboards"), "--rules", "rules/")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: each prints its figures (ratios against the baseline it names)."""
    sync(session)
    scripts = sorted(ROOT.glob("packages/*/benchmarks/bench_*.py"))
    scripts += sorted(ROOT.glob("exporters/*/benchmarks/bench_*.py"))
    scripts += sorted(ROOT.glob("tests/benchmarks/bench_*.py"))
    wanted = set(session.posargs)
    for script in scripts:
        if not wanted or script.stem in wanted:
            session.run("python", str(script.relative_to(ROOT)))
