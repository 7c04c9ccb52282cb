"""Validate a rendered configuration and swap it in atomically, or keep the old one.

``<state>/config`` is a symlink to a version directory in ``<state>/config.d/``. A new version
is rendered into a staging directory beside them, checked with promtool and amtool, and only
then made live by replacing the symlink in one ``rename``: the running servers read either the
old files or the new ones, never a mix. A failed check leaves the live configuration as it was
and the error names the file and line, as the user knows them (the rule file in ``rules/``,
or the template that produced a rendered file).
"""

from __future__ import annotations

import configparser
import filecmp
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from acgs_deploy import haproxy
from acgs_deploy.layout import StateLayout

__all__ = [
    "ConfigError",
    "apply",
    "diff",
    "live_version",
    "reinstate",
    "size",
    "staging_dir",
    "validate",
]

# Rendered file -> where it comes from, for messages.
TEMPLATES = {
    "prometheus.yml": "configs/prometheus.yml.j2",
    "web.yml": "configs/web.yml.j2",
    "alertmanager.yml": "configs/alertmanager.yml.j2",
    "grafana/grafana.ini": "configs/grafana/grafana.ini.j2",
    "alertmanager-cluster.yml": "configs/alertmanager-cluster.yml.j2",
    "query.cfg": "configs/haproxy-query.cfg.j2",
}


class ConfigError(RuntimeError):
    """The rendered configuration failed a check; nothing was applied."""


@dataclass(frozen=True)
class Check:
    name: str
    argv: list[str]


def staging_dir(layout: StateLayout) -> Path:
    """A fresh directory on the same file system as the live versions."""
    layout.config_versions_dir.mkdir(parents=True, exist_ok=True)
    path = layout.config_versions_dir / f".staging-{os.getpid()}-{time.monotonic_ns()}"
    path.mkdir(mode=0o700)
    return path


def validate(config_dir: Path, rule_sources: Path | None = None) -> None:
    """Run every check on ``config_dir``; :class:`ConfigError` lists what failed and where.

    ``rule_sources`` is the directory the rule files were copied from, named in messages.
    """
    # Topology ha: one prometheus-<n>.yml per further Prometheus server.
    prometheus_files = sorted(p.name for p in config_dir.glob("prometheus*.yml"))
    checks = [
        *(
            Check("promtool check config", ["promtool", "check", "config", name])
            for name in prometheus_files
        ),
        Check("promtool check web-config", ["promtool", "check", "web-config", "web.yml"]),
        Check("amtool check-config", ["amtool", "check-config", "alertmanager.yml"]),
    ]
    with ThreadPoolExecutor(max_workers=min(len(checks), 4)) as pool:
        results = list(pool.map(lambda check: _run(check, config_dir), checks))
    if (config_dir / "query.cfg").is_file():
        try:
            haproxy.check_config(config_dir / "query.cfg")
        except haproxy.HAProxyConfigError as error:
            results.append(str(error))
    problems = [problem for problem in results if problem]
    problems += _check_grafana(config_dir)
    if problems:
        text = "\n".join(problems)
        raise ConfigError(
            _as_user_paths(text, config_dir, rule_sources)
            + "\nNothing was applied: the running stack keeps its current configuration. "
            "Fix the file named above, then run `invoke reload` (or `invoke deploy`)."
        )


def _run(check: Check, cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            check.argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        return f"{check.name}: {check.argv[0]} not found; run `invoke install-deps`"
    if done.returncode == 0:
        return None
    output = (done.stdout + done.stderr).strip()
    # promtool prints SUCCESS lines for the parts that passed: keep only the failures.
    lines = [line for line in output.splitlines() if "SUCCESS" not in line and line.strip()]
    return f"{check.name} failed:\n  " + "\n  ".join(lines)


def _check_grafana(config_dir: Path) -> list[str]:
    problems = []
    ini = config_dir / "grafana" / "grafana.ini"
    if ini.exists():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(ini, encoding="utf-8")
        except configparser.Error as error:
            problems.append(f"grafana/grafana.ini: {error}")
    for path in sorted((config_dir / "grafana" / "provisioning").rglob("*.yml")):
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            problems.append(f"{path.relative_to(config_dir)}: not valid YAML: {error}")
    return problems


def _as_user_paths(text: str, config_dir: Path, rule_sources: Path | None) -> str:
    """Name files as the user knows them, not by the staging path."""
    if rule_sources is not None:
        text = text.replace(f"{config_dir}/rules/", f"{rule_sources}/")
        text = re.sub(r"(?<![\w/.-])rules/", f"{rule_sources}/", text)
    for rendered, template in TEMPLATES.items():
        text = text.replace(f"{config_dir}/{rendered}", f"{rendered} (from {template})")
    text = re.sub(
        rf"{re.escape(str(config_dir))}/(prometheus-[0-9]+\.yml)",
        r"\1 (from configs/prometheus.yml.j2)",
        text,
    )
    return text.replace(f"{config_dir}/", "")


def diff(new_dir: Path, live_dir: Path) -> set[str]:
    """Relative paths that differ between two configuration trees (added, removed, changed)."""
    if not live_dir.exists():
        return {str(p.relative_to(new_dir)) for p in new_dir.rglob("*") if p.is_file()}
    new = {str(p.relative_to(new_dir)) for p in new_dir.rglob("*") if p.is_file()}
    old = {str(p.relative_to(live_dir)) for p in live_dir.rglob("*") if p.is_file()}
    changed = new ^ old
    for name in new & old:
        if not filecmp.cmp(new_dir / name, live_dir / name, shallow=False):
            changed.add(name)
    return changed


def apply(staged: Path, layout: StateLayout) -> set[str]:
    """Make ``staged`` the live configuration unless nothing changed; returns what changed.

    The staged directory is consumed either way. The version live before is kept, so a
    component that fails to start on the new one can be put back on it (`reinstate`).
    """
    live = layout.config_dir
    changed = diff(staged, live)
    if not changed:
        shutil.rmtree(staged)
        return changed
    if live.exists() and not live.is_symlink():
        # A plain directory from elsewhere: keep it as a version so the swap stays atomic.
        os.replace(live, layout.config_versions_dir / f"v-{time.time_ns()}-adopted")
    previous = live.resolve() if live.is_symlink() else None
    version = layout.config_versions_dir / f"v-{time.time_ns()}"
    os.replace(staged, version)
    reinstate(version, layout)
    _prune(layout, keep={version, previous})
    return changed


def size(config: Path) -> int:
    """Bytes in the files of a configuration directory (0 when there is none)."""
    if not config.is_dir():
        return 0
    return sum(p.stat().st_size for p in config.resolve().rglob("*") if p.is_file())


def live_version(layout: StateLayout) -> Path | None:
    """The version directory the live configuration points at now; None before the first."""
    live = layout.config_dir
    return live.resolve() if live.is_symlink() and live.resolve().is_dir() else None


def reinstate(version: Path, layout: StateLayout) -> None:
    """Make `version` (a directory in ``config.d``) the live configuration, in one rename:
    a new one after `apply`'s checks, or the previous one again when it failed to start."""
    link = layout.root / f".config-link-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(version.relative_to(layout.root))
    os.replace(link, layout.config_dir)


def _prune(layout: StateLayout, keep: set[Path | None]) -> None:
    """Delete the versions but the new one and the one live before it (after a roll-back that
    is not the newest other one)."""
    versions = sorted(
        (p for p in layout.config_versions_dir.glob("v-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime_ns,
    )
    old = [p for p in versions if p.resolve() not in keep]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    for leftover in layout.config_versions_dir.glob(".staging-*"):
        if leftover.stat().st_mtime < time.time() - 3600:
            shutil.rmtree(leftover, ignore_errors=True)
