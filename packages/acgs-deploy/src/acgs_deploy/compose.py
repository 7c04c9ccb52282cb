"""The compose target: ``<state>/compose/docker-compose.monitoring.yml`` and what it mounts.

The same templates, secrets and certificates as the local target, with the addresses and
paths the containers see. Everything is validated before it is written: the configs with
promtool and amtool (on a copy whose file paths point at the host's certificates), the compose
file with ``docker-compose config`` (works without an engine). The stack is started only when
the Docker SDK reaches an engine; otherwise the files stay rendered and the command says how
to start them (exit code 3).

``--demo`` is refused: the demo services (acgs-sim) and the webhook receiver are local
processes, and nothing in the compose file runs them. Use the local target for the demo.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from acgs_deploy import binaries, configstore
from acgs_deploy.render import (
    GRAFANA_CONTAINER_PORT,
    LOOPBACK_HOSTS,
    compose_topology,
    grafana_environment,
    render,
    render_template,
)
from acgs_deploy.secrets import RECEIVER_KEYS, Secrets, write_private
from acgs_deploy.settings import StackSettings
from acgs_deploy.stack import check_state_dir
from acgs_deploy.tls import describe_sans, ensure_certificates, uncovered
from acgs_metrics.services import SERVICES

__all__ = [
    "COMPOSE_FILE",
    "DEMO_REFUSED",
    "IMAGES",
    "ComposeError",
    "ComposeOutcome",
    "deploy",
    "management_note",
    "render_compose",
]

COMPOSE_FILE = "docker-compose.monitoring.yml"
GRAFANA_ENV_FILE = "grafana.env"
CREDENTIAL_KEYS = ("PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD")
PROJECT = "acgs-monitoring"
# Pinned images; bump deliberately (configs are checked against Prometheus 2.42 and 3.x).
IMAGES = {
    "prometheus": "prom/prometheus:v3.5.0",
    "alertmanager": "prom/alertmanager:v0.28.1",
    "node_exporter": "prom/node-exporter:v1.9.1",
    "grafana": "grafana/grafana-oss:12.1.1",
    "redis_exporter": "oliver006/redis_exporter:v1.74.0",
    "postgres_exporter": "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
    "haproxy_exporter": "quay.io/prometheus/haproxy-exporter:v0.15.0",
}


# What validating the compose directory runs on this host.
VALIDATORS = [b for b in binaries.BINARIES if b.name in ("promtool", "amtool", "docker-compose")]
DEMO_REFUSED = (
    "--demo is not supported with --target compose: the demo services (acgs-sim) and the "
    "webhook receiver run as local processes, which the containers cannot reach on "
    "127.0.0.1. For the demo run `invoke deploy --demo` (the local target); for compose, "
    "deploy without --demo and set sim_host (ACGS_SIM_HOST) to where your ACGS services listen."
)


class ComposeError(RuntimeError):
    """The compose target cannot be deployed as asked; the message says what to do."""


@dataclass(frozen=True)
class ComposeOutcome:
    compose_file: Path
    started: bool
    message: str


def render_compose(settings: StackSettings) -> Path:
    """Render, validate and write the compose directory; returns the compose file."""
    binaries.ensure_binaries(VALIDATORS)
    if settings.tls_cert_file is not None:
        # Inside the compose network the servers reach each other by service name.
        user_cert = settings.tls_cert_file
        missing = uncovered(user_cert, ("prometheus", "alertmanager", "node-exporter"))
        if missing:
            raise ComposeError(
                f"{user_cert}: for the compose target the certificate also needs the service "
                f"names {', '.join(missing)} as SANs (it has {describe_sans(user_cert)}); "
                "have it reissued with them"
            )
    receivers = {name: getattr(settings, name) for name in RECEIVER_KEYS}
    secrets, _ = Secrets.ensure(settings.state_dir, receivers)
    certs = ensure_certificates(settings)
    layout = settings.layout
    target = layout.compose_dir
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)
    topology = compose_topology(settings)
    ca_pem = certs.ca_cert.read_text()
    with tempfile.TemporaryDirectory(dir=target, prefix=".staging-") as scratch:
        staged = Path(scratch) / "compose"
        render(settings, secrets, topology, staged / "config", target / "config")
        # The checks open the certificate files, so check a copy that names the host's paths.
        checkable = dataclasses.replace(
            topology,
            ca_cert=str(certs.ca_cert),
            server_cert=str(certs.server_cert),
            server_key=str(certs.server_key),
        )
        check_dir = Path(scratch) / "check"
        render(settings, secrets, checkable, check_dir, staged / "config")
        configstore.validate(check_dir, settings.rules_dir)
        certs_dir = staged / "certs"
        certs_dir.mkdir()
        for source in (certs.ca_cert, certs.server_cert, certs.server_key):
            shutil.copy2(source, certs_dir / source.name)
        (certs_dir / certs.server_key.name).chmod(0o600)
        for data in ("prometheus", "alertmanager", "grafana"):
            (staged / "data" / data).mkdir(parents=True)
        compose_text = render_template(
            "docker-compose.monitoring.yml.j2",
            settings=settings,
            images=IMAGES,
            uid=os.getuid(),
            gid=os.getgid(),
            publish=settings.host,
            grafana_container_port=GRAFANA_CONTAINER_PORT,
            ca_pem=ca_pem,
        )
        (staged / COMPOSE_FILE).write_text(compose_text)
        # Grafana's datasource provisioning expands these; only the two it needs.
        grafana_env = grafana_environment(secrets, "https://prometheus:9090", ca_pem)
        write_private(
            staged / GRAFANA_ENV_FILE,
            "".join(
                f"{k}={grafana_env[k]}\n" for k in ("PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD")
            ),
        )
        _validate_compose(staged / COMPOSE_FILE)
        # Replace config and certs; keep existing data directories.
        for name in ("config", "certs"):
            old = target / name
            if old.exists():
                shutil.rmtree(old)
            os.replace(staged / name, old)
        for data in ("prometheus", "alertmanager", "grafana"):
            (target / "data" / data).mkdir(parents=True, exist_ok=True)
        os.replace(staged / GRAFANA_ENV_FILE, target / GRAFANA_ENV_FILE)
        os.replace(staged / COMPOSE_FILE, target / COMPOSE_FILE)
    return target / COMPOSE_FILE


def management_note(settings: StackSettings) -> str | None:
    """For status and down, which manage local processes only: how to manage compose."""
    compose_file = settings.layout.compose_dir / COMPOSE_FILE
    if not compose_file.is_file():
        return None
    command = f"docker compose -f {compose_file} -p {PROJECT}"
    return (
        f"this state directory also holds a compose deployment ({compose_file}); `invoke "
        f"status` and `invoke down` manage the local target only. Its containers: "
        f"`{command} ps` (status), `{command} down` (stop)"
    )


def _validate_compose(path: Path) -> None:
    done = subprocess.run(
        ["docker-compose", "-f", path.name, "config", "--quiet"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise configstore.ConfigError(
            f"{COMPOSE_FILE} (from configs/{COMPOSE_FILE}.j2) failed `docker-compose config`:\n"
            f"  {(done.stdout + done.stderr).strip()}"
        )


def _engine_problem() -> str | None:
    """None when the Docker SDK reaches an engine, else why not."""
    try:
        import docker  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return "the Docker SDK is not installed (pip install 'acgs-deploy[docker]')"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as error:
        return f"no Docker engine reachable ({type(error).__name__}: {error})"
    return None


def deploy(settings: StackSettings, *, demo: bool, console: Console) -> ComposeOutcome:
    """Preflight, render and validate, then start where an engine answers."""
    if demo:
        raise ComposeError(DEMO_REFUSED)
    check_state_dir(settings)
    try:
        compose_file = render_compose(settings)
    except OSError as error:
        raise ComposeError(
            f"cannot write the compose directory {settings.layout.compose_dir}: "
            f"{error.strerror or error}{f' ({error.filename})' if error.filename else ''}. "
            "Choose a writable --state-dir or fix its permissions."
        ) from None
    console.print(
        f"rendered and validated {compose_file}", markup=False, highlight=False, soft_wrap=True
    )
    if settings.sim_host in LOOPBACK_HOSTS:
        last = settings.sim_base_port + len(SERVICES) - 1
        console.print(
            f"note: the ACGS services are scraped at host.docker.internal (this host seen from "
            f"the containers), ports {settings.sim_base_port}-{last}; "
            "services listening only on 127.0.0.1 are not reachable there: let them listen "
            "on the Docker bridge or set sim_host (ACGS_SIM_HOST) to their address.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    problem = _engine_problem()
    if problem is not None:
        message = (
            f"not started: {problem}. Start a Docker engine (e.g. `systemctl start docker`) "
            f"and run `invoke deploy --target compose` again, or on a host with an engine: "
            f"docker compose -f {compose_file} -p {PROJECT} up -d"
        )
        console.print(message, soft_wrap=True, markup=False, highlight=False)
        return ComposeOutcome(compose_file, started=False, message=message)
    done = subprocess.run(
        ["docker-compose", "-f", str(compose_file), "-p", PROJECT, "up", "-d"],
        check=False,
    )
    if done.returncode != 0:
        return ComposeOutcome(compose_file, False, "docker-compose up failed: see its output")
    return ComposeOutcome(compose_file, started=True, message="started")
