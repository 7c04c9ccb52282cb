"""Render the stack's configuration from ``configs/*.j2``, the rules and the dashboards.

``render(settings, secrets, topology, out_dir, demo=...)`` writes a complete configuration
directory; :mod:`acgs_deploy.configstore` validates it and swaps it in. The same templates serve
both targets: a :class:`Topology` says where each component is as seen from the servers
(loopback ports for the local target, service names and container paths for compose).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

import acgs_dashboards
from acgs_deploy import haproxy, haproxy_runtime, sharding
from acgs_deploy.infra import JOBS
from acgs_deploy.instances import (
    alertmanager_instances,
    prometheus_instances,
    query_instance,
    victoriametrics_instance,
)
from acgs_deploy.rulefiles import GLOBAL_RULES_DIR, rule_files
from acgs_deploy.secrets import GRAFANA_ADMIN_USER, Secrets
from acgs_deploy.settings import REPO_ROOT, StackSettings
from acgs_metrics.services import SERVICE_NAMES, instance_port
from acgs_rules.scope import GLOBAL, SHARD, ScopeError, split_by_scope

__all__ = [
    "CONFIGS_DIR",
    "GRAFANA_CONTAINER_PORT",
    "LOOPBACK_HOSTS",
    "RenderError",
    "Topology",
    "compose_topology",
    "grafana_environment",
    "hostport",
    "infra_jobs",
    "local_topology",
    "receivers_context",
    "render",
    "web_config",
]

CONFIGS_DIR = REPO_ROOT / "configs"
FINGERPRINT_FILE = ".dashboards-fingerprint"
# The query endpoint's userlist: the stack's one user, by its bcrypt hash.
QUERY_USERS = "acgs_users"
# Grafana's port inside its container (the image's default); the host port is grafana_port.
GRAFANA_CONTAINER_PORT = 3000


class RenderError(RuntimeError):
    """A template, rule file or dashboard could not be rendered; names the file."""


@dataclass(frozen=True)
class Topology:
    """Addresses (host:port) and paths as the servers of one target see them."""

    prometheus: Sequence[str]  # every Prometheus server (replicas, shards)
    alertmanager: Sequence[str]  # every Alertmanager peer: each Prometheus sends to all
    node_exporter: str
    acgs_targets: Sequence[tuple[str, Sequence[str]]]  # (service, every instance's address)
    optional_exporters: Sequence[tuple[str, str]]
    webhook_url: str | None
    ca_cert: str
    server_cert: str
    server_key: str
    grafana_listen: str
    grafana_port: int  # where Grafana listens (in the container for compose)
    grafana_data: str
    grafana_logs: str
    grafana_provisioning: str
    grafana_dashboards: str
    # The demo infrastructure's jobs (scraped through TLS and auth), when its parts run.
    infra_jobs: Sequence[tuple[str, str]] = ()
    # The long-term store (topology ha): scraped there, written to at remote_write_url.
    victoriametrics: str | None = None
    remote_write_url: str | None = None
    # The client certificate of the Alertmanager peers' gossip (mutual TLS), when there is one.
    peer_cert: str | None = None
    peer_key: str | None = None
    # The query endpoint (topology ha): where HAProxy listens and its certificate bundle.
    query_listen: str | None = None
    query_pem: str | None = None
    query_resolver: str | None = None  # DNS server for its backends' names (compose)


def hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _fleet(settings: StackSettings, host: str) -> list[tuple[str, list[str]]]:
    """Every instance of every ACGS service (``sim_replicas`` of each), by service."""
    return [
        (
            name,
            [
                hostport(host, instance_port(name, settings.sim_base_port, replica))
                for replica in range(settings.sim_replicas)
            ],
        )
        for name in SERVICE_NAMES
    ]


def local_topology(settings: StackSettings, *, demo: bool, infra: Collection[str] = ()) -> Topology:
    """Where each component is for the local target; `infra`: the infrastructure parts that
    run (`acgs_deploy.infra.PARTS`), whose jobs are scraped."""
    layout = settings.layout
    host = settings.connect_host
    optional = [
        ("haproxy", settings.haproxy_exporter_target),
        ("redis", settings.redis_exporter_target),
        ("postgres", settings.postgres_exporter_target),
    ]
    live = layout.config_dir
    store = victoriametrics_instance(settings)
    victoriametrics = hostport(host, store.port) if store else None
    peer = layout.peer_cert.is_file() and settings.topology == "ha"
    query = query_instance(settings)
    return Topology(
        prometheus=[hostport(host, i.port) for i in prometheus_instances(settings)],
        alertmanager=[hostport(host, i.port) for i in alertmanager_instances(settings)],
        node_exporter=hostport(host, settings.node_exporter_port),
        acgs_targets=_fleet(settings, settings.sim_host),
        optional_exporters=[(job, target) for job, target in optional if target],
        webhook_url=f"http://{hostport('127.0.0.1', settings.webhook_port)}/alerts"
        if demo
        else None,
        ca_cert=str(layout.ca_cert),
        server_cert=str(layout.server_cert),
        server_key=str(layout.server_key),
        grafana_listen=settings.host,
        grafana_port=settings.grafana_port,
        grafana_data=str(layout.grafana_data),
        grafana_logs=str(layout.logs_dir / "grafana"),
        grafana_provisioning=str(live / "grafana" / "provisioning"),
        grafana_dashboards=str(live / "grafana" / "dashboards"),
        infra_jobs=infra_jobs(settings, infra) if demo else [],
        victoriametrics=victoriametrics,
        remote_write_url=f"https://{victoriametrics}/api/v1/write" if victoriametrics else None,
        peer_cert=str(layout.peer_cert) if peer else None,
        peer_key=str(layout.peer_key) if peer else None,
        query_listen=hostport(settings.host, query.port) if query else None,
        query_pem=str(layout.certs_dir / haproxy.PEM_NAME) if query else None,
    )


def infra_jobs(settings: StackSettings, running: Collection[str]) -> list[tuple[str, str]]:
    """(job, host:port) of each infrastructure job whose part runs: the scrape config gets them
    automatically (a job whose ``*_exporter_target`` is set scrapes the user's exporter)."""
    return [
        (job, hostport(settings.connect_host, getattr(settings, port)))
        for job, (part, port, _) in JOBS.items()
        if part in running
    ]


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# The compose target: where the certificates are mounted, and each image's own port.
CONTAINER_CERTS = "/etc/acgs-certs"
CONTAINER_PORTS = {
    "prometheus": 9090,
    "alertmanager": 9093,
    "alertmanager_cluster": 9094,
    "victoriametrics": 8428,
    "vmalert": 8880,
    "query": 9190,
}


def compose_topology(settings: StackSettings) -> Topology:
    # The ACGS services run outside the compose network. A loopback sim_host means "this
    # host", reached from the containers as host.docker.internal (the Docker bridge gateway):
    # the services must then listen on an address the bridge reaches, not on 127.0.0.1.
    # No demo parts: the compose target refuses --demo (see acgs_deploy.backends.compose).
    sim_host = "host.docker.internal" if settings.sim_host in LOOPBACK_HOSTS else settings.sim_host
    optional = [
        ("haproxy", "haproxy-exporter:9101", settings.haproxy_scrape_uri),
        ("redis", "redis-exporter:9121", settings.redis_address),
        ("postgres", "postgres-exporter:9187", settings.postgres_address),
    ]
    # Topology ha: one container per server, reached by its name (the server certificate
    # names every one, see acgs_deploy.tls.server_names) on the image's own port.
    store = victoriametrics_instance(settings)
    ha = settings.topology == "ha"
    return Topology(
        prometheus=[
            f"{i.name}:{CONTAINER_PORTS['prometheus']}" for i in prometheus_instances(settings)
        ],
        alertmanager=[
            f"{i.name}:{CONTAINER_PORTS['alertmanager']}" for i in alertmanager_instances(settings)
        ],
        victoriametrics=f"victoriametrics:{CONTAINER_PORTS['victoriametrics']}" if store else None,
        remote_write_url=f"https://victoriametrics:{CONTAINER_PORTS['victoriametrics']}/api/v1/write"
        if store
        else None,
        peer_cert=f"{CONTAINER_CERTS}/{settings.layout.peer_cert.name}" if ha else None,
        peer_key=f"{CONTAINER_CERTS}/{settings.layout.peer_key.name}" if ha else None,
        query_listen=f"0.0.0.0:{CONTAINER_PORTS['query']}" if ha else None,
        query_pem=f"{CONTAINER_CERTS}/{haproxy.PEM_NAME}" if ha else None,
        query_resolver="127.0.0.11:53" if ha else None,  # Docker's embedded DNS
        node_exporter="node-exporter:9100",
        acgs_targets=_fleet(settings, sim_host),
        optional_exporters=[(job, target) for job, target, enabled in optional if enabled],
        webhook_url=None,
        ca_cert=f"{CONTAINER_CERTS}/ca.crt",
        server_cert=f"{CONTAINER_CERTS}/server.crt",
        server_key=f"{CONTAINER_CERTS}/server.key",
        grafana_listen="0.0.0.0",  # noqa: S104 (inside the container; published per settings)
        # The compose file publishes grafana_port on the host to this port in the container.
        grafana_port=GRAFANA_CONTAINER_PORT,
        grafana_data="/var/lib/grafana",
        grafana_logs="/var/lib/grafana/logs",
        grafana_provisioning="/etc/acgs/grafana/provisioning",
        grafana_dashboards="/etc/acgs/grafana/dashboards",
    )


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(CONFIGS_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 (YAML and ini, not HTML)
    )


def render_template(name: str, **context: Any) -> str:
    try:
        return environment().get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as error:
        raise RenderError(f"configs/{error.name}:{error.lineno}: {error.message}") from None
    except jinja2.TemplateError as error:
        raise RenderError(f"configs/{name}: {error}") from None


def render(
    settings: StackSettings,
    secrets: Secrets,
    topology: Topology,
    out_dir: Path,
    live_dir: Path | None = None,
) -> list[Path]:
    """Write every config file of the stack into ``out_dir``; returns the files written.

    ``live_dir`` is the configuration in use (default: the state's ``config``), from which
    an unchanged dashboard build is reused.
    Files are 0600 (several hold passwords) in 0700 directories.
    """
    live_dir = settings.layout.config_dir if live_dir is None else live_dir
    context: dict[str, Any] = {
        "settings": settings,
        "secrets": secrets,
        "topology": topology,
        "receivers": receivers_context(secrets.receiver),
        "grafana_admin_user": GRAFANA_ADMIN_USER,
        "auth": {"username": secrets.prometheus_username, "password": secrets.prometheus_password},
        "tls": {"ca_file": topology.ca_cert},
        "self_jobs": _self_jobs(topology),
        "web": _web_context(
            secrets.prometheus_username,
            secrets.prometheus_password_hash,
            topology.server_cert,
            topology.server_key,
        ),
    }
    outputs = {
        "web.yml": "web.yml.j2",
        "alertmanager.yml": "alertmanager.yml.j2",
        "grafana/grafana.ini": "grafana/grafana.ini.j2",
    }
    written = [
        _write(out_dir / target, render_template(template, **context))
        for target, template in outputs.items()
    ]
    # One file per Prometheus server: the same scrape and rule configuration, its own labels
    # (and, sharded, its own part of the targets).
    shards = settings.topology_plan.prometheus_shards
    if shards > 1:
        sharding.split(all_targets(topology), shards)  # refuses a shard with no target
    for instance in prometheus_instances(settings):
        labels = {**settings.external_labels, **instance.labels}
        relabel = shard_relabel(instance.shard, shards) if shards > 1 else None
        text = render_template(
            "prometheus.yml.j2", **context, external_labels=labels, shard_relabel=relabel
        )
        written.append(_write(out_dir / instance.config_file, text))
    written += render_ha(settings, secrets, topology, out_dir, context)
    written += _copy_rules(settings.rules_dir, out_dir / "rules", sharded=shards > 1)
    written += _build_dashboards(
        out_dir / "grafana", topology.grafana_dashboards, live_dir / "grafana"
    )
    _make_private(out_dir)
    return written


def _self_jobs(topology: Topology) -> list[tuple[str, Sequence[str]]]:
    """The monitoring stack's own scrape jobs and their targets (every replica and peer)."""
    jobs = [
        ("prometheus", topology.prometheus),
        ("alertmanager", topology.alertmanager),
        ("node_exporter", [topology.node_exporter]),
    ]
    if topology.victoriametrics:
        jobs.append(("victoriametrics", [topology.victoriametrics]))
    return jobs


def render_ha(
    settings: StackSettings,
    secrets: Secrets,
    topology: Topology,
    out_dir: Path,
    context: dict[str, Any],
) -> list[Path]:
    """Topology ha's own files: the gossip TLS of the Alertmanager peers and the query
    endpoint's HAProxy configuration (none with topology single)."""
    query = query_instance(settings)
    listen, pem = topology.query_listen, topology.query_pem
    if settings.topology != "ha" or query is None or listen is None or pem is None:
        return []
    cluster = render_template("alertmanager-cluster.yml.j2", **context)
    users = {secrets.prometheus_username: secrets.prometheus_password_hash}
    query_context = {
        # With its runtime API: the rolling restart drains a server here first.
        "global": haproxy.global_section(
            admin_socket=haproxy_runtime.admin_socket(settings.layout.run_dir, query.name)
        ),
        "userlist": haproxy.userlist(QUERY_USERS, users),
        "bind": haproxy.tls_bind(listen, Path(pem)),
        "auth_rule": haproxy.AUTH_RULE.format(QUERY_USERS),
        "authorization": haproxy.basic_auth_header(
            secrets.prometheus_username, secrets.prometheus_password
        ),
        # HAProxy matches a DNS name of the certificate: the local CA's always has localhost.
        "verify_host": "localhost",
    }
    config = render_template("haproxy-query.cfg.j2", **context, query=query_context)
    return [
        _write(out_dir / "alertmanager-cluster.yml", cluster),
        _write(out_dir / query.config_file, config),
    ]


# The receiver names configs/alertmanager.yml.j2 uses, and the setting each comes from.
RECEIVER_FIELDS = {
    "email_to": "alert_email_to",
    "smtp_smarthost": "smtp_smarthost",
    "smtp_from": "smtp_from",
    "smtp_username": "smtp_username",
    "smtp_password": "smtp_password",
    "slack_webhook_url": "slack_webhook_url",
    "slack_channel": "slack_channel",
    "pagerduty_routing_key": "pagerduty_routing_key",
}


def receivers_context(value: Callable[[str], str | None]) -> dict[str, str | None]:
    """The ``receivers`` of configs/alertmanager.yml.j2: each from `value(setting name)`
    (monitoring.env for the local targets; references to a Secret for kubernetes)."""
    receivers = {name: value(setting) for name, setting in RECEIVER_FIELDS.items()}
    if receivers["email_to"] and not (receivers["smtp_smarthost"] and receivers["smtp_from"]):
        raise RenderError(
            "alert_email_to is set but smtp_smarthost or smtp_from is not: set both "
            "(ACGS_SMTP_SMARTHOST, ACGS_SMTP_FROM) or unset ACGS_ALERT_EMAIL_TO"
        )
    return receivers


def web_config(username: str, password_hash: str, cert_file: str, key_file: str) -> str:
    """The exporter-toolkit web config (``web.yml``) for one user: TLS with AEAD suites only,
    bcrypt basic auth. Test servers use it too, so they run behind the stack's own file."""
    return render_template(
        "web.yml.j2", web=_web_context(username, password_hash, cert_file, key_file)
    )


def _web_context(
    username: str, password_hash: str, cert_file: str, key_file: str
) -> dict[str, str]:
    return {
        "username": username,
        "password_hash": password_hash,
        "cert_file": cert_file,
        "key_file": key_file,
    }


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def all_targets(topology: Topology) -> list[str]:
    """Every address the Prometheus configuration scrapes (what the shards split)."""
    fleet = [target for _, targets in topology.acgs_targets for target in targets]
    own = [target for _, targets in _self_jobs(topology) for target in targets]
    return [*fleet, *own, *(target for _, target in topology.optional_exporters)]


def shard_relabel(shard: int, shards: int) -> list[dict[str, Any]]:
    """The relabelling that keeps shard `shard`'s part of a job's targets (hashmod)."""
    return [
        {
            "source_labels": ["__address__"],
            "modulus": shards,
            "target_label": "__tmp_hash",
            "action": "hashmod",
        },
        {"source_labels": ["__tmp_hash"], "regex": str(shard), "action": "keep"},
    ]


def _copy_rules(rules_dir: Path, target: Path, *, sharded: bool = False) -> list[Path]:
    """The rule files (``*.yml`` and ``*.yaml``); the preflight made sure there are some.

    Sharded, each file is split by group scope (``# acgs: scope=global``, see
    :mod:`acgs_rules.scope`): its shard groups into ``target``, its global groups into
    ``target/global`` for vmalert.
    """
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for source in rule_files(rules_dir):
        if not sharded:
            destination = target / source.name
            shutil.copyfile(source, destination)
            copied.append(destination)
            continue
        try:
            parts = split_by_scope(source.read_text(encoding="utf-8"))
        except ScopeError as error:
            raise RenderError(f"{source}:{error.line}: {error}") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise RenderError(f"{source}: cannot read the rule file: {error}") from None
        for scope, where in ((SHARD, target), (GLOBAL, target / GLOBAL_RULES_DIR)):
            if parts[scope]:
                text = yaml.safe_dump({"groups": parts[scope]}, sort_keys=False)
                copied.append(_write(where / source.name, text))
    return copied


def _build_dashboards(grafana_dir: Path, dashboards_path: str, live_grafana: Path) -> list[Path]:
    """Dashboards and Grafana provisioning from ``acgs_dashboards`` (``dashboards/*.py``).

    The datasource file names environment variables, not secrets: see
    :func:`grafana_environment`. When the sources are unchanged since the live build (same
    fingerprint), the live output is copied: importing the Grafana SDK (``acgs_dashboards.build``)
    costs more than the rest of a redeploy.
    """
    fingerprint = _dashboards_fingerprint(Path(acgs_dashboards.__file__).parent, dashboards_path)
    marker = live_grafana / FINGERPRINT_FILE
    if marker.is_file() and marker.read_text() == fingerprint:
        for part in ("dashboards", "provisioning"):
            if (live_grafana / part).is_dir():
                shutil.copytree(live_grafana / part, grafana_dir / part, dirs_exist_ok=True)
        files = [p for p in grafana_dir.rglob("*") if p.is_file() and p.suffix != ".ini"]
    else:
        from acgs_dashboards.build import BuildError, build_all

        try:
            built = build_all(grafana_dir, dashboards_source(), dashboards_path)
            files = list(built.files)
        except BuildError as error:
            raise RenderError(f"dashboards: {error}") from None
    _write(grafana_dir / FINGERPRINT_FILE, fingerprint)
    return files


def dashboards_source() -> Path:
    """The dashboard definitions the stack is built from: ``$ACGS_DASHBOARDS_DIR``, else this
    checkout's ``dashboards/`` (never one found from the current directory)."""
    return Path(os.environ.get("ACGS_DASHBOARDS_DIR") or REPO_ROOT / "dashboards")


def _dashboards_fingerprint(package_dir: Path, dashboards_path: str) -> str:
    """Hash of everything the dashboard build reads: definitions, builder code, output path."""
    source = dashboards_source()
    digest = hashlib.sha256(dashboards_path.encode())
    for path in sorted([*source.glob("*.py"), *package_dir.rglob("*.py")]):
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def grafana_environment(secrets: Secrets, prometheus_url: str, ca_pem: str) -> dict[str, str]:
    """What Grafana's datasource provisioning expands (kept out of files and argv)."""
    return {
        "ACGS_PROMETHEUS_URL": prometheus_url,
        "PROMETHEUS_USERNAME": secrets.prometheus_username,
        "PROMETHEUS_PASSWORD": secrets.prometheus_password,
        "ACGS_PROMETHEUS_CA_CERT": ca_pem,
    }


def _make_private(root: Path) -> None:
    root.chmod(0o700)
    for path in root.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
