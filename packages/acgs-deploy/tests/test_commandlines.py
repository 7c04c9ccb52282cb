"""The servers' command lines: one builder, a stable flag order (a changed command line
restarts a running server on the next deploy)."""

from __future__ import annotations

from pathlib import Path

from acgs_deploy.commandlines import (
    alertmanager_command,
    node_exporter_command,
    prometheus_command,
)


def test_prometheus_command_line() -> None:
    argv = prometheus_command(
        config=Path("/s/config/prometheus.yml"),
        data=Path("/s/data/prometheus"),
        listen="[::1]:9090",
        web_config=Path("/s/config/web.yml"),
        retention="15d",
        extra=["--web.external-url=https://[::1]:9090/"],
    )
    assert argv == [
        "prometheus",
        "--config.file=/s/config/prometheus.yml",
        "--storage.tsdb.path=/s/data/prometheus",
        "--storage.tsdb.retention.time=15d",
        "--web.listen-address=[::1]:9090",
        "--web.config.file=/s/config/web.yml",
        "--web.enable-admin-api",
        "--web.enable-lifecycle",
        "--web.external-url=https://[::1]:9090/",
    ]


def test_without_web_config_or_retention_no_such_flag_is_given() -> None:
    argv = prometheus_command(config=Path("p.yml"), data=Path("d"), listen="127.0.0.1:1")
    assert not [a for a in argv if a.startswith(("--web.config.file", "--storage.tsdb.retention"))]
    assert alertmanager_command(config=Path("a.yml"), data=Path("d"), listen="127.0.0.1:2") == [
        "prometheus-alertmanager",
        "--config.file=a.yml",
        "--storage.path=d",
        "--web.listen-address=127.0.0.1:2",
        "--cluster.listen-address=",
    ]


def test_alertmanager_writes_its_silences_every_maintenance_interval() -> None:
    argv = alertmanager_command(
        config=Path("a.yml"), data=Path("d"), listen="127.0.0.1:2", maintenance_interval="1m"
    )
    assert "--data.maintenance-interval=1m" in argv
    assert argv[-1] == "--cluster.listen-address="


def test_node_exporter_command_line() -> None:
    assert node_exporter_command(listen="127.0.0.1:9100", web_config=Path("/s/web.yml")) == [
        "prometheus-node-exporter",
        "--web.listen-address=127.0.0.1:9100",
        "--web.config.file=/s/web.yml",
    ]
    assert node_exporter_command(listen="[::1]:3", extra=["--collector.disable-defaults"]) == [
        "prometheus-node-exporter",
        "--web.listen-address=[::1]:3",
        "--collector.disable-defaults",
    ]
