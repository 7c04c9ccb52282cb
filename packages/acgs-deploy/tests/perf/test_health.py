"""Health checks against a real Prometheus (TLS, auth) and Alertmanager."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from pathlib import Path

import pytest

from acgs_deploy.health import (
    check_alertmanager,
    check_backups,
    check_certificates,
    check_firing,
    check_ready,
    check_rules,
    check_targets,
    check_tsdb,
    healthy,
)
from acgs_deploy.perf.promapi import parse_duration

from .conftest import Stack


def test_ready_through_tls_and_auth(stack: Stack) -> None:
    with stack.prometheus.client() as client:
        assert check_ready("prometheus", client).status == "ok"
    with dataclasses.replace(stack.prometheus, password="wrong").client() as client:
        result = check_ready("prometheus", client)
    assert result.status == "fail"
    assert "401" in result.detail


def test_a_job_without_a_live_target_fails(stack: Stack) -> None:
    with stack.prometheus.client() as client:
        result = check_targets(client)
    assert result.status == "fail"
    assert result.data["down_jobs"] == ["absent"]
    assert result.data["expected_jobs"] == ["absent", "acgs-test", "prometheus"]
    assert "2/3 up" in result.detail


def test_rules_alertmanager_and_firing(stack: Stack) -> None:
    with stack.prometheus.client() as prom, stack.alertmanager.client() as am:
        rules = check_rules(prom)
        assert rules.status == "ok"
        assert rules.data["rules"] == 4
        manager = check_alertmanager(am)
        assert manager.status == "ok"
        assert manager.data["receivers"] == ["webhook"]
        deadline = time.monotonic() + 20
        while "TestAlwaysFiring" not in check_firing(am).data["alertnames"]:
            assert time.monotonic() < deadline, "TestAlwaysFiring never reached Alertmanager"
            time.sleep(0.5)
        firing = check_firing(am)
    assert firing.data["by_severity"]["warning"] >= 1


def test_certificate_days(tls: tuple[Path, Path]) -> None:
    cert, _ = tls  # valid for 30 days
    assert check_certificates([cert]).status == "warn"
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=25)
    assert check_certificates([cert], now=soon).status == "fail"
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    result = check_certificates([cert], now=earlier)
    assert result.status == "ok"
    assert "40 days left" in result.detail


def test_tsdb_projection(stack: Stack) -> None:
    with stack.prometheus.client() as client:
        result = check_tsdb(client, stack.prometheus_data)
    assert result.status == "ok"
    assert result.data["bytes"] > 0
    assert result.data["retention_s"] == 15 * 86400  # Prometheus' default
    # Under an hour of data: projected from one hour (a young store grows fast at first).
    assert result.data["projected_bytes"] == pytest.approx(result.data["bytes"] * 15 * 24, rel=0.01)


def test_backup_age(tmp_path: Path) -> None:
    assert check_backups(tmp_path / "none").status == "warn"
    backup = tmp_path / "acgs-backup-1.tar.enc"
    backup.write_bytes(b"x")
    assert check_backups(tmp_path).status == "ok"
    old = time.time() - 80 * 3600
    os.utime(backup, (old, old))
    result = check_backups(tmp_path)
    assert result.status == "fail"
    assert "80.0 h old" in result.detail
    assert not healthy([result])


def test_durations() -> None:
    assert parse_duration("15d") == 15 * 86400
    assert parse_duration("1h30m") == 5400
    assert parse_duration("500ms") == 0.5
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration("15x")
