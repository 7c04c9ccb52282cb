from __future__ import annotations

import stat
from pathlib import Path

import bcrypt
import pytest

from acgs_deploy.secrets import REQUIRED_KEYS, Secrets, SecretsError


def test_first_ensure_creates_private_file_with_all_keys(tmp_path: Path) -> None:
    secrets, changed = Secrets.ensure(tmp_path)
    assert changed
    path = Secrets.path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    env = secrets.as_env()
    for key in REQUIRED_KEYS:
        assert env[key], key
    assert secrets.prometheus_username == "acgs_monitor"
    assert bcrypt.checkpw(
        secrets.prometheus_password.encode(), secrets.prometheus_password_hash.encode()
    )
    assert len(secrets.prometheus_password) >= 32


def test_ensure_keeps_values_and_round_trips(tmp_path: Path) -> None:
    first, _ = Secrets.ensure(tmp_path)
    second, changed = Secrets.ensure(tmp_path)
    assert not changed
    assert second == first
    assert Secrets.load(tmp_path) == first


def test_two_states_get_different_secrets(tmp_path: Path) -> None:
    a, _ = Secrets.ensure(tmp_path / "a")
    b, _ = Secrets.ensure(tmp_path / "b")
    assert a.prometheus_password != b.prometheus_password
    assert a.backup_encryption_key != b.backup_encryption_key


def test_receivers_are_added_and_kept(tmp_path: Path) -> None:
    first, _ = Secrets.ensure(tmp_path)
    updated, changed = Secrets.ensure(
        tmp_path, {"slack_webhook_url": "https://hooks.example/x", "alert_email_to": None}
    )
    assert changed
    assert updated.prometheus_password == first.prometheus_password
    again, changed = Secrets.ensure(tmp_path, {})
    assert not changed
    assert again.receiver("slack_webhook_url") == "https://hooks.example/x"
    assert again.receiver("alert_email_to") is None


def test_repr_hides_values(tmp_path: Path) -> None:
    secrets, _ = Secrets.ensure(tmp_path)
    assert secrets.prometheus_password not in repr(secrets)
    assert secrets.grafana_admin_password not in repr(secrets)


def test_missing_and_incomplete_files(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="invoke deploy"):
        Secrets.load(tmp_path)
    Secrets.path(tmp_path).write_text("PROMETHEUS_USERNAME='acgs_monitor'\n")
    with pytest.raises(SecretsError, match="missing GRAFANA_ADMIN_PASSWORD"):
        Secrets.load(tmp_path)
    Secrets.path(tmp_path).write_text("garbage line\n")
    with pytest.raises(SecretsError, match=r"monitoring\.env:1: expected"):
        Secrets.load(tmp_path)


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    Secrets.ensure(tmp_path)
    Secrets.path(tmp_path).chmod(0o644)
    Secrets.ensure(tmp_path)
    assert stat.S_IMODE(Secrets.path(tmp_path).stat().st_mode) == 0o600
