from __future__ import annotations

import stat
from pathlib import Path

import bcrypt
import pytest

from acgs_deploy.secrets import (
    BCRYPT_ROUNDS,
    REQUIRED_KEYS,
    Secrets,
    SecretsError,
    hash_is_current,
    hash_password,
)


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


@pytest.mark.parametrize("old", ["another cost", "hand-edited", "wrong password"])
def test_a_stale_hash_is_made_again_at_the_current_cost(tmp_path: Path, old: str) -> None:
    first, _ = Secrets.ensure(tmp_path)
    password = first.prometheus_password
    stale = {
        "another cost": bcrypt.hashpw(
            password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS + 1)
        ).decode(),
        "hand-edited": "not-a-bcrypt-hash",
        "wrong password": bcrypt.hashpw(b"other", bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode(),
    }[old]
    path = Secrets.path(tmp_path)
    path.write_text(path.read_text().replace(first.prometheus_password_hash, stale))
    assert Secrets.load(tmp_path).prometheus_password_hash == stale

    updated, changed = Secrets.ensure(tmp_path)
    assert changed
    assert updated.prometheus_password == password  # clients keep their password
    assert updated.prometheus_password_hash.startswith(f"$2b${BCRYPT_ROUNDS:02d}$")
    assert bcrypt.checkpw(password.encode(), updated.prometheus_password_hash.encode())
    assert Secrets.load(tmp_path) == updated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Once current, the hash is kept (a new salt every deploy would rewrite web.yml).
    again, changed = Secrets.ensure(tmp_path)
    assert not changed
    assert again.prometheus_password_hash == updated.prometheus_password_hash


def test_hash_is_current() -> None:
    current = hash_password("pw")
    assert hash_is_current("pw", current)
    assert not hash_is_current("other", current)
    other_cost = bcrypt.gensalt(rounds=BCRYPT_ROUNDS + 1)
    assert not hash_is_current("pw", bcrypt.hashpw(b"pw", other_cost).decode())
    assert not hash_is_current("pw", "$2b$xx$garbage")
