"""The command lines of Prometheus, Alertmanager, node_exporter and VictoriaMetrics, built in
one place for every caller (the local backend, and the throwaway servers of tests and
benchmarks).

Prometheus always runs with the admin API (TSDB snapshots, for backups) and the lifecycle API
(``POST /-/reload``): keep it behind the web config's TLS and basic auth, or on loopback.
Flag order is stable: the local backend restarts a server whose recorded command line differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ALERTMANAGER",
    "NODE_EXPORTER",
    "PROMETHEUS",
    "VICTORIAMETRICS",
    "Cluster",
    "alertmanager_command",
    "node_exporter_command",
    "prometheus_command",
    "victoriametrics_command",
]

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"  # the Debian packages' names for the binaries
NODE_EXPORTER = "prometheus-node-exporter"
VICTORIAMETRICS = "victoria-metrics"


def prometheus_command(
    *,
    config: Path,
    data: Path,
    listen: str,
    web_config: Path | None = None,
    retention: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """argv of a Prometheus reading `config`, keeping its TSDB in `data` for `retention`
    (Prometheus' default when None), listening on `listen` (``host:port``, IPv6 in brackets)
    behind `web_config` (TLS and basic auth) when given; `extra` flags come last."""
    argv = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={data}"]
    if retention is not None:
        argv.append(f"--storage.tsdb.retention.time={retention}")
    argv.append(f"--web.listen-address={listen}")
    if web_config is not None:
        argv.append(f"--web.config.file={web_config}")
    return [*argv, "--web.enable-admin-api", "--web.enable-lifecycle", *extra]


def alertmanager_command(
    *,
    config: Path,
    data: Path,
    listen: str,
    web_config: Path | None = None,
    maintenance_interval: str | None = None,
    cluster: Cluster | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """argv of an Alertmanager, as `prometheus_command`: alone (no gossip port) without
    `cluster`, else a peer of that cluster.

    `maintenance_interval` is how often it writes its silences and notification log to disk
    (Alertmanager's 15m when None): a ``kill -9`` loses what was made since the last write.
    """
    argv = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={data}",
        f"--web.listen-address={listen}",
    ]
    if web_config is not None:
        argv.append(f"--web.config.file={web_config}")
    if maintenance_interval is not None:
        argv.append(f"--data.maintenance-interval={maintenance_interval}")
    if cluster is None:
        return [*argv, "--cluster.listen-address=", *extra]
    argv.append(f"--cluster.listen-address={cluster.listen}")
    argv += [f"--cluster.peer={peer}" for peer in cluster.peers]
    if cluster.tls_config is not None:
        argv.append(f"--cluster.tls-config={cluster.tls_config}")
    return [*argv, *extra]


@dataclass(frozen=True)
class Cluster:
    """An Alertmanager's place in its gossip cluster: where it listens (``host:port``), the
    other peers, and the gossip TLS file (``--cluster.tls-config``) when encrypted."""

    listen: str
    peers: Sequence[str]
    tls_config: Path | None = None


def victoriametrics_command(
    *,
    data: Path,
    listen: str,
    retention: str,
    dedup_interval: str,
    cert_file: Path,
    key_file: Path,
    env_prefix: str,
    extra: Sequence[str] = (),
) -> list[str]:
    """argv of a single-node VictoriaMetrics behind TLS, keeping `data` for `retention` (its
    own syntax: 15d, 360h) and one sample per series per `dedup_interval`.

    Secrets (``-httpAuth.password`` and the auth keys) are never in argv: it reads them from
    ``<env_prefix><flag with _ for .>`` variables (``-envflag.enable``)."""
    return [
        VICTORIAMETRICS,
        f"-storageDataPath={data}",
        f"-httpListenAddr={listen}",
        f"-retentionPeriod={retention}",
        f"-dedup.minScrapeInterval={dedup_interval}",
        "-tls",
        f"-tlsCertFile={cert_file}",
        f"-tlsKeyFile={key_file}",
        "-envflag.enable",
        f"-envflag.prefix={env_prefix}",
        *extra,
    ]


def node_exporter_command(
    *, listen: str, web_config: Path | None = None, extra: Sequence[str] = ()
) -> list[str]:
    """argv of a node_exporter listening on `listen`, as `prometheus_command`."""
    argv = [NODE_EXPORTER, f"--web.listen-address={listen}"]
    if web_config is not None:
        argv.append(f"--web.config.file={web_config}")
    return [*argv, *extra]
