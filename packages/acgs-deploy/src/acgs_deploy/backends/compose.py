"""The compose target: ``<state>/compose/docker-compose.monitoring.yml`` and what it mounts.

The same templates, secrets and certificates as the local target, with the addresses and
paths the containers see. Everything is validated before it is put in place: the configs with
promtool and amtool (on a copy whose file paths point at the host's certificates), the compose
file with ``docker-compose config`` (works without an engine). The stack is started only when
the Docker SDK reaches an engine; otherwise the files stay rendered and the notes say how to
start them (exit code 3).

``--demo`` is refused: the demo services (acgs-sim) and the webhook receiver are local
processes, and nothing in the compose file runs them. Use the local target for the demo.
`status` and `down` cannot see the containers without an engine: their notes say how to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from acgs_deploy import configstore, haproxy, preflight
from acgs_deploy.backends.base import DeployOptions, Rendered, Report, secrets_and_certificates
from acgs_deploy.client import port_url
from acgs_deploy.commandlines import victoriametrics_command, vmalert_command
from acgs_deploy.components import (
    VM_ENV_PREFIX,
    VMALERT_ENV_PREFIX,
    dedup_interval,
    victoriametrics_env,
    victoriametrics_retention,
    vmalert_env,
)
from acgs_deploy.errors import DeployError
from acgs_deploy.instances import (
    alertmanager_instances,
    instances,
    prometheus_instances,
    query_instance,
    victoriametrics_instance,
    vmalert_instance,
)
from acgs_deploy.render import (
    CONTAINER_CERTS,
    CONTAINER_PORTS,
    GRAFANA_CONTAINER_PORT,
    LOOPBACK_HOSTS,
    compose_topology,
    grafana_environment,
    render,
    render_template,
)
from acgs_deploy.rulefiles import GLOBAL_RULES_DIR
from acgs_deploy.secrets import Secrets, write_private
from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import CertificateInfo, describe_sans, uncovered
from acgs_metrics.services import SERVICES

__all__ = ["COMPOSE_FILE", "DEMO_REFUSED", "IMAGES", "ComposeBackend", "engine_problem"]

COMPOSE_FILE = "docker-compose.monitoring.yml"
GRAFANA_ENV_FILE = "grafana.env"
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
    # Topology ha: the releases Debian ships here, which the configs are checked with.
    "victoriametrics": "victoriametrics/victoria-metrics:v1.79.5",
    "vmalert": "victoriametrics/vmalert:v1.79.5",
    "haproxy": "haproxy:2.6",
}
# What validating the compose directory runs on this host.
VALIDATORS = ("promtool", "amtool", "docker-compose")
# The service names the servers reach each other by, inside the compose network.
SERVICE_NAMES = ("prometheus", "alertmanager", "node-exporter")
# The secrets of the long-term store and vmalert (topology ha), beside the compose file.
SECRET_ENV_FILES = ("victoriametrics.env", "vmalert.env")
DEMO_REFUSED = (
    "--demo is not supported with --target compose: the demo services (acgs-sim) and the "
    "webhook receiver run as local processes, which the containers cannot reach on "
    "127.0.0.1. For the demo run `invoke deploy --demo` (the local target); for compose, "
    "deploy without --demo and set sim_host (ACGS_SIM_HOST) to where your ACGS services listen."
)


class ComposeBackend:
    """The compose directory of the stack in `settings`; ``options.demo`` is refused."""

    def __init__(
        self,
        settings: StackSettings,
        options: DeployOptions | None = None,
        console: Console | None = None,
    ) -> None:
        if options is not None and options.demo:
            raise DeployError(DEMO_REFUSED)
        self.settings = settings
        self.allow_fewer = options is not None and options.allow_fewer_rules

    @property
    def compose_file(self) -> Path:
        return self.settings.layout.compose_dir / COMPOSE_FILE

    def render(self) -> Rendered:
        """Preflight, then the compose directory and a checkable copy of it in staging."""
        preflight.require_binaries(VALIDATORS)
        self._check_user_certificate()
        preflight.check_state_dir(self.settings)
        preflight.check_rules_dir(self.settings)
        secrets, certs = secrets_and_certificates(self.settings)
        target = self.settings.layout.compose_dir
        with self._writing():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o700)
            scratch = Path(tempfile.mkdtemp(dir=target, prefix=".staging-"))
            rendered = Rendered(scratch, config=scratch / "check", certs_changed=certs.changed)
            try:
                self._render_into(rendered.staging, secrets, certs)
            except BaseException:
                rendered.discard()
                raise
        return rendered

    def validate(self, rendered: Rendered) -> None:
        configstore.validate(rendered.config, self.settings.rules_dir)
        live_rules = self.settings.layout.compose_dir / "config" / "rules"
        preflight.check_rule_count(rendered.config / "rules", live_rules, self.allow_fewer)
        _validate_compose(rendered.staging / "compose" / COMPOSE_FILE)

    def apply(self, rendered: Rendered) -> Report:
        """Put the files in place (data directories are kept), then start where an engine is."""
        staged, target = rendered.staging / "compose", self.settings.layout.compose_dir
        try:
            with self._writing():
                for name in ("config", "certs"):
                    if (target / name).exists():
                        shutil.rmtree(target / name)
                    os.replace(staged / name, target / name)
                for data in data_dirs(self.settings):
                    (target / "data" / data).mkdir(parents=True, exist_ok=True)
                for env_file in (GRAFANA_ENV_FILE, *SECRET_ENV_FILES):
                    if (staged / env_file).exists():
                        os.replace(staged / env_file, target / env_file)
                os.replace(staged / COMPOSE_FILE, self.compose_file)
        finally:
            rendered.discard()
        return self._start()

    def status(self) -> Report:
        return Report(notes=self._management_notes())

    def down(self) -> Report:
        return Report(notes=self._management_notes())

    def _check_user_certificate(self) -> None:
        """A user-supplied certificate must also name the compose services."""
        user_cert = self.settings.tls_cert_file
        if user_cert is None:
            return
        missing = uncovered(user_cert, SERVICE_NAMES)
        if missing:
            raise DeployError(
                f"{user_cert}: for the compose target the certificate also needs the service "
                f"names {', '.join(missing)} as SANs (it has {describe_sans(user_cert)}); "
                "have it reissued with them"
            )

    def _render_into(self, scratch: Path, secrets: Secrets, certs: CertificateInfo) -> None:
        settings = self.settings
        staged, live = scratch / "compose", settings.layout.compose_dir / "config"
        topology = compose_topology(settings)
        render(settings, secrets, topology, staged / "config", live)
        # The checks open the certificate files, so check a copy that names the host's paths.
        layout = settings.layout
        ha = settings.topology == "ha"
        checkable = dataclasses.replace(
            topology,
            ca_cert=str(certs.ca_cert),
            server_cert=str(certs.server_cert),
            server_key=str(certs.server_key),
            peer_cert=str(layout.peer_cert) if ha else None,
            peer_key=str(layout.peer_key) if ha else None,
            query_pem=str(layout.certs_dir / haproxy.PEM_NAME) if ha else None,
        )
        render(settings, secrets, checkable, scratch / "check", staged / "config")
        (staged / "certs").mkdir()
        for source in (certs.ca_cert, certs.server_cert, certs.server_key, *ha_certs(settings)):
            shutil.copy2(source, staged / "certs" / source.name)
        for key in (staged / "certs").glob("*"):
            if key.suffix in (".key", ".pem"):
                key.chmod(0o600)
        for data in data_dirs(settings):
            (staged / "data" / data).mkdir(parents=True)
        ca_pem = certs.ca_cert.read_text()
        servers = ha_services(settings, secrets, staged)
        datasource = "https://query:9190" if servers["query"] else "https://prometheus:9090"
        compose_text = render_template(
            "docker-compose.monitoring.yml.j2",
            settings=settings,
            images=IMAGES,
            uid=os.getuid(),
            gid=os.getgid(),
            publish=settings.host,
            grafana_container_port=GRAFANA_CONTAINER_PORT,
            grafana_datasource=datasource,
            container_ports=CONTAINER_PORTS,
            ca_pem=ca_pem,
            **servers,
        )
        (staged / COMPOSE_FILE).write_text(compose_text)
        # Grafana's datasource provisioning expands these; only the two it needs.
        grafana_env = grafana_environment(secrets, datasource, ca_pem)
        wanted = ("PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD")
        write_private(staged / GRAFANA_ENV_FILE, "".join(f"{k}={grafana_env[k]}\n" for k in wanted))

    def _start(self) -> Report:
        notes = [f"rendered and validated {self.compose_file}"]
        settings = self.settings
        if settings.sim_host in LOOPBACK_HOSTS:
            last = settings.sim_base_port + len(SERVICES) * settings.sim_replicas - 1
            notes.append(
                "note: the ACGS services are scraped at host.docker.internal (this host seen "
                f"from the containers), ports {settings.sim_base_port}-{last}; "
                "services listening only on 127.0.0.1 are not reachable there: let them listen "
                "on the Docker bridge or set sim_host (ACGS_SIM_HOST) to their address."
            )
        problem = engine_problem()
        if problem is not None:
            notes.append(
                f"not started: {problem}. Start a Docker engine (e.g. `systemctl start docker`) "
                f"and run `invoke deploy --target compose` again, or on a host with an engine: "
                f"{self._command()} up -d"
            )
            return Report(notes=notes, started=False)
        done = subprocess.run(
            ["docker-compose", "-f", str(self.compose_file), "-p", PROJECT, "up", "-d"],
            check=False,
        )
        if done.returncode != 0:
            notes.append("docker-compose up failed: see its output")
        return Report(notes=notes, started=done.returncode == 0)

    def _command(self) -> str:
        return f"docker compose -f {self.compose_file} -p {PROJECT}"

    def _management_notes(self) -> list[str]:
        if not self.compose_file.is_file():
            return []
        command = self._command()
        return [
            f"this state directory also holds a compose deployment ({self.compose_file}); "
            "`invoke status` and `invoke down` manage the local target only. Its containers: "
            f"`{command} ps` (status), `{command} down` (stop)"
        ]

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            where = f" ({error.filename})" if error.filename else ""
            raise DeployError(
                f"cannot write the compose directory {self.settings.layout.compose_dir}: "
                f"{error.strerror or error}{where}. Choose a writable --state-dir or fix its "
                "permissions."
            ) from None


def data_dirs(settings: StackSettings) -> list[str]:
    """The data directories under ``data/``: one per server that keeps state."""
    keeping = ("prometheus", "alertmanager", "victoriametrics")
    return [i.name for i in instances(settings) if i.role in keeping] + ["grafana"]


def ha_certs(settings: StackSettings) -> list[Path]:
    """Topology ha's further certificate files: the gossip client pair, HAProxy's bundle."""
    if settings.topology != "ha":
        return []
    layout = settings.layout
    return [layout.peer_cert, layout.peer_key, haproxy.ensure_pem_bundle(layout)]


def ha_services(settings: StackSettings, secrets: Secrets, staged: Path) -> dict[str, Any]:
    """The template's servers: every Prometheus and Alertmanager (topology ha: replicas,
    shards, cluster peers), and VictoriaMetrics, vmalert and the query endpoint when they run,
    with their command lines as the containers see them. The secrets of VictoriaMetrics and
    vmalert go to 0600 env files beside the compose file, never into it."""
    peers = alertmanager_instances(settings)
    ha = settings.topology == "ha"
    services: dict[str, Any] = {
        "prometheus_servers": [
            {"name": i.name, "config_file": i.config_file, "port": i.port}
            for i in prometheus_instances(settings)
        ],
        "alertmanager_peers": [
            {
                "name": peer.name,
                "port": peer.port,
                "peers": [p.name for p in peers if p.name != peer.name] if ha else None,
            }
            for peer in peers
        ],
        "store": None,
        "ruler": None,
        "query": None,
    }
    certs = Path(CONTAINER_CERTS)
    store = victoriametrics_instance(settings)
    if store is not None:
        argv = victoriametrics_command(
            data=Path("/storage"),
            listen=f":{CONTAINER_PORTS['victoriametrics']}",
            retention=victoriametrics_retention(settings.retention),
            dedup_interval=dedup_interval(settings),
            cert_file=certs / "server.crt",
            key_file=certs / "server.key",
            env_prefix=VM_ENV_PREFIX,
        )
        services["store"] = {"port": store.port, "command": argv[1:]}
        _env_file(staged / "victoriametrics.env", victoriametrics_env(secrets))
    ruler = vmalert_instance(settings)
    if ruler is not None and store is not None:
        argv = vmalert_command(
            rules=Path("/etc/acgs/rules") / GLOBAL_RULES_DIR,
            listen=f":{CONTAINER_PORTS['vmalert']}",
            url=port_url(settings, ruler.port),
            store=f"https://victoriametrics:{CONTAINER_PORTS['victoriametrics']}",
            notifiers=[f"https://{p.name}:{CONTAINER_PORTS['alertmanager']}" for p in peers],
            ca_file=certs / "ca.crt",
            cert_file=certs / "server.crt",
            key_file=certs / "server.key",
            evaluation_interval=settings.evaluation_interval,
            external_labels=settings.external_labels,
            env_prefix=VMALERT_ENV_PREFIX,
        )
        services["ruler"] = {"port": ruler.port, "command": argv[1:]}
        _env_file(staged / "vmalert.env", vmalert_env(secrets, len(peers)))
    query = query_instance(settings)
    if query is not None:
        services["query"] = {"port": query.port, "config_file": query.config_file}
    return services


def _env_file(path: Path, values: dict[str, str]) -> None:
    write_private(path, "".join(f"{key}={value}\n" for key, value in values.items()))


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


def engine_problem() -> str | None:
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
