"""The stack's secrets: made once with a CSPRNG, kept in ``<state>/monitoring.env`` (0600).

Later deploys read the file and keep every value; receiver settings given later are added.
Nothing here prints a value: ``repr`` hides them, errors name keys only.

File format: ``KEY='value'`` per line (single quotes so that Compose does not interpolate the
``$`` of the bcrypt hash), comments with ``#``.
"""

from __future__ import annotations

import os
import secrets as csprng
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

__all__ = [
    "BCRYPT_ROUNDS",
    "ENV_FILE",
    "GRAFANA_ADMIN_USER",
    "INFRA_KEYS",
    "PROMETHEUS_USERNAME",
    "RECEIVER_KEYS",
    "REQUIRED_KEYS",
    "Secrets",
    "SecretsError",
    "backup_key_problem",
    "env_assignment",
    "hash_is_current",
    "hash_password",
    "unquote",
    "write_private",
]

ENV_FILE = "monitoring.env"
PROMETHEUS_USERNAME = "acgs_monitor"
# Grafana's admin account, as the guide names it.
GRAFANA_ADMIN_USER = "acgs_admin"
# The demo infrastructure's passwords (Redis' requirepass, PostgreSQL's `acgs` role): made by
# the first deploy that needs them, also into an older monitoring.env that lacks them.
INFRA_KEYS = ("REDIS_PASSWORD", "POSTGRES_PASSWORD")
# bcrypt's minimum cost. The password is 32 random bytes (256 bits): guessing it is out of
# reach at any cost, while exporter-toolkit checks one hash at a time, so each
# uncached check (1 to 2 ms at cost 4, 300 to 500 ms at 12 on the test machine) holds up
# every other uncached client.
# Figures and reasons: packages/acgs-deploy/docs/security.md. Deploy re-hashes an older cost.
BCRYPT_ROUNDS = 4
# BACKUP_ENCRYPTION_KEY is token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
BACKUP_KEY_BYTES = 32
BACKUP_KEY_LENGTH = 43
_URLSAFE = frozenset(string.ascii_letters + string.digits + "-_")
REQUIRED_KEYS = (
    "GRAFANA_ADMIN_PASSWORD",
    "GRAFANA_SECRET_KEY",
    "PROMETHEUS_USERNAME",
    "PROMETHEUS_PASSWORD",
    "PROMETHEUS_PASSWORD_HASH",
    "BACKUP_ENCRYPTION_KEY",
)
# Settings field -> key in monitoring.env, for the alert receivers.
RECEIVER_KEYS: dict[str, str] = {
    "alert_email_to": "ALERT_EMAIL_TO",
    "smtp_smarthost": "SMTP_SMARTHOST",
    "smtp_from": "SMTP_FROM",
    "smtp_username": "SMTP_USERNAME",
    "smtp_password": "SMTP_PASSWORD",
    "slack_webhook_url": "SLACK_WEBHOOK_URL",
    "slack_channel": "SLACK_CHANNEL",
    "pagerduty_routing_key": "PAGERDUTY_ROUTING_KEY",
}


class SecretsError(RuntimeError):
    """monitoring.env is missing, unreadable or incomplete; the message says what to do."""


@dataclass(frozen=True)
class Secrets:
    """The values of monitoring.env. ``receivers`` maps RECEIVER_KEYS values to settings."""

    grafana_admin_password: str = field(repr=False)
    grafana_secret_key: str = field(repr=False)
    prometheus_username: str
    prometheus_password: str = field(repr=False)
    prometheus_password_hash: str = field(repr=False)
    backup_encryption_key: str = field(repr=False)
    receivers: Mapping[str, str] = field(default_factory=dict, repr=False)
    redis_password: str = field(default="", repr=False)
    postgres_password: str = field(default="", repr=False)

    @staticmethod
    def path(state_dir: Path) -> Path:
        return Path(state_dir) / ENV_FILE

    @classmethod
    def load(cls, state_dir: Path) -> Secrets:
        """Read ``<state_dir>/monitoring.env``; :class:`SecretsError` if it is not usable."""
        path = cls.path(state_dir)
        if not path.is_file():
            raise SecretsError(f"{path} does not exist: run `invoke deploy` first to create it")
        values = _parse(path)
        absent = [key for key in REQUIRED_KEYS if not values.get(key)]
        if absent:
            raise SecretsError(
                f"{path}: missing {', '.join(absent)}; delete the file to make new secrets "
                "(the stack's passwords change) or add the keys"
            )
        return cls(
            grafana_admin_password=values["GRAFANA_ADMIN_PASSWORD"],
            grafana_secret_key=values["GRAFANA_SECRET_KEY"],
            prometheus_username=values["PROMETHEUS_USERNAME"],
            prometheus_password=values["PROMETHEUS_PASSWORD"],
            prometheus_password_hash=values["PROMETHEUS_PASSWORD_HASH"],
            backup_encryption_key=values["BACKUP_ENCRYPTION_KEY"],
            receivers={k: v for k, v in values.items() if k in RECEIVER_KEYS.values()},
            redis_password=values.get("REDIS_PASSWORD", ""),
            postgres_password=values.get("POSTGRES_PASSWORD", ""),
        )

    @classmethod
    def ensure(
        cls, state_dir: Path, receivers: Mapping[str, str | None] | None = None
    ) -> tuple[Secrets, bool]:
        """Load the secrets, creating them on first use; returns (secrets, changed).

        ``receivers`` maps settings field names (see RECEIVER_KEYS) to values; the given ones
        are stored, the others keep what the file has.
        """
        path = cls.path(state_dir)
        given = {
            RECEIVER_KEYS[name]: value
            for name, value in (receivers or {}).items()
            if value is not None and name in RECEIVER_KEYS
        }
        for key, value in given.items():
            if "'" in value or "\n" in value or "\r" in value:
                raise SecretsError(f"{key}: the value may not contain quotes or line breaks")
        if path.exists():
            current = cls.load(state_dir)
            merged = {**current.receivers, **given}
            hashed = current.prometheus_password_hash
            if not hash_is_current(current.prometheus_password, hashed):
                # A stack made with another cost (or a hash edited by hand): the plaintext
                # is here, and it is what clients send, so hash it again at today's cost.
                hashed = hash_password(current.prometheus_password)
            infra = {
                "redis_password": current.redis_password or csprng.token_urlsafe(32),
                "postgres_password": current.postgres_password or csprng.token_urlsafe(32),
            }
            if (
                merged == dict(current.receivers)
                and hashed == current.prometheus_password_hash
                and infra == {k: getattr(current, k) for k in infra}
            ):
                _tighten(path)
                return current, False
            updated = cls(
                **{
                    **current.__dict__,
                    **infra,
                    "receivers": merged,
                    "prometheus_password_hash": hashed,
                }
            )
            updated.write(state_dir)
            return updated, True
        password = csprng.token_urlsafe(32)
        created = cls(
            grafana_admin_password=csprng.token_urlsafe(24),
            grafana_secret_key=csprng.token_urlsafe(32),
            prometheus_username=PROMETHEUS_USERNAME,
            prometheus_password=password,
            prometheus_password_hash=hash_password(password),
            backup_encryption_key=csprng.token_urlsafe(BACKUP_KEY_BYTES),
            receivers=given,
            redis_password=csprng.token_urlsafe(32),
            postgres_password=csprng.token_urlsafe(32),
        )
        created.write(state_dir)
        return created, True

    def as_env(self) -> dict[str, str]:
        """Every key of monitoring.env and its value."""
        return {
            "GRAFANA_ADMIN_PASSWORD": self.grafana_admin_password,
            "GRAFANA_SECRET_KEY": self.grafana_secret_key,
            "PROMETHEUS_USERNAME": self.prometheus_username,
            "PROMETHEUS_PASSWORD": self.prometheus_password,
            "PROMETHEUS_PASSWORD_HASH": self.prometheus_password_hash,
            "BACKUP_ENCRYPTION_KEY": self.backup_encryption_key,
            **self.receivers,
            **{
                key: value
                for key, value in zip(
                    INFRA_KEYS, (self.redis_password, self.postgres_password), strict=True
                )
                if value
            },
        }

    def receiver(self, setting: str) -> str | None:
        """The stored value of a receiver setting (a RECEIVER_KEYS field name)."""
        return self.receivers.get(RECEIVER_KEYS[setting])

    def write(self, state_dir: Path) -> None:
        lines = [
            "# ACGS monitoring stack secrets: made by `invoke deploy`, kept across deploys.",
            "# Keep this file 0600; never commit it.",
        ]
        lines += [f"{key}='{value}'" for key, value in self.as_env().items()]
        write_private(self.path(state_dir), "\n".join(lines) + "\n")


def backup_key_problem(key: str) -> str | None:
    """Why `key` cannot be a BACKUP_ENCRYPTION_KEY `invoke deploy` made, or None when it can.

    Says only its length and how many characters are out of place, never the key itself.
    """
    outside = sum(1 for char in key if char not in _URLSAFE)
    problems = []
    if len(key) != BACKUP_KEY_LENGTH:
        problems.append(f"it is {len(key)} characters long")
    if outside:
        problems.append(f"{outside} of its characters are not A-Z a-z 0-9 - _")
    if not problems:
        return None
    return (
        " and ".join(problems)
        + f"; keys made by `invoke deploy` are {BACKUP_KEY_LENGTH} characters of A-Z a-z 0-9 - _"
    )


def hash_password(password: str) -> str:
    """The bcrypt hash of ``password`` at BCRYPT_ROUNDS, for the web config."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def hash_is_current(password: str, hashed: str) -> bool:
    """Whether ``hashed`` is a bcrypt hash of ``password`` made at BCRYPT_ROUNDS."""
    parts = hashed.split("$")  # "", "2b", cost, salt + digest
    if len(parts) != 4 or parts[2] != f"{BCRYPT_ROUNDS:02d}":
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # not a bcrypt hash after all
        return False


def write_private(path: Path, text: str | bytes) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``text``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = text.encode() if isinstance(text, str) else text
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _tighten(path: Path) -> None:
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def _parse(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SecretsError(f"{path}: cannot read: {error.strerror}") from None
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assignment = env_assignment(line)
        if assignment is None:
            raise SecretsError(f"{path}:{number}: expected KEY='value'")
        key, value = assignment
        values[key] = value
    return values


def env_assignment(line: str) -> tuple[str, str] | None:
    """``KEY=value`` (optionally ``export``-ed, the value optionally quoted) as (key, value);
    None when `line` is not such an assignment."""
    words = line.strip().split(maxsplit=1)
    if len(words) == 2 and words[0] == "export":
        line = words[1]
    key, sep, value = line.strip().partition("=")
    if not sep or not key.strip().isidentifier():
        return None
    return key.strip(), unquote(value)


def unquote(value: str) -> str:
    """`value` without surrounding whitespace and one pair of matching quotes."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
