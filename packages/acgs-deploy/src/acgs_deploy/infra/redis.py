"""The demo's Redis: ``redis-server`` with a rendered ``redis.conf`` (0600: it holds
``requirepass``, REDIS_PASSWORD of monitoring.env), its RDB snapshot in ``<state>/data/redis``.

`command` speaks just enough RESP (the Redis protocol) for the stack's own needs: the health
probe (AUTH, PING) and backups (SAVE, so the RDB is current), without a client library.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import BinaryIO

from acgs_deploy.process import ProcessSpec
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings

__all__ = ["RDB_NAME", "RedisError", "command", "ping", "redis_conf", "redis_spec", "save"]

RDB_NAME = "dump.rdb"
REDIS_SERVER = "redis-server"


class RedisError(RuntimeError):
    """Redis did not answer as asked; says what it answered."""


def redis_conf(settings: StackSettings, secrets: Secrets) -> str:
    """The configuration: our port and address, a password, snapshots in the state dir."""
    bind = "* -::*" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    return "\n".join(
        [
            "# Rendered by acgs-deploy (acgs_deploy.infra.redis): 0600, holds the password.",
            f"bind {bind}",
            f"port {settings.redis_port}",
            "protected-mode yes",
            f'requirepass "{secrets.redis_password}"',
            f'dir "{settings.layout.redis_data}"',
            f"dbfilename {RDB_NAME}",
            # A snapshot a minute while the demo writes; backups SAVE first anyway.
            "save 60 1",
            "appendonly no",
            "daemonize no",
            # Keep the command line the process manager recorded (it checks it before a stop).
            "set-proc-title no",
            'logfile ""',
            "loglevel notice",
            "",
        ]
    )


def redis_spec(config: Path) -> ProcessSpec:
    return ProcessSpec("redis", [REDIS_SERVER, str(config)])


def _encode(*words: str) -> bytes:
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _reply(stream: BinaryIO) -> bytes:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise RedisError("connection closed")
    kind, body = line[:1], line[1:-2]
    if kind == b"-":
        raise RedisError(body.decode(errors="replace"))
    if kind == b"$":
        size = int(body)
        return b"" if size < 0 else stream.read(size + 2)[:-2]
    return body


def command(settings: StackSettings, password: str, *words: str, timeout_s: float = 5.0) -> bytes:
    """AUTH with `password`, then one command; its reply (simple, integer or bulk string)."""
    address = (settings.connect_host, settings.redis_port)
    with socket.create_connection(address, timeout=timeout_s) as sock:
        sock.sendall(_encode("AUTH", password) + _encode(*words))
        with sock.makefile("rb") as stream:
            _reply(stream)
            return _reply(stream)


def ping(settings: StackSettings, password: str) -> bool:
    try:
        return command(settings, password, "PING", timeout_s=2.0) == b"PONG"
    except (OSError, RedisError, ValueError):
        return False


def save(settings: StackSettings, password: str) -> Path:
    """SAVE (the RDB on disk is then current); returns the RDB's path."""
    try:
        command(settings, password, "SAVE", timeout_s=120.0)
    except (OSError, RedisError) as error:
        raise RedisError(f"redis: SAVE before the backup failed: {error}") from None
    return settings.layout.redis_data / RDB_NAME
