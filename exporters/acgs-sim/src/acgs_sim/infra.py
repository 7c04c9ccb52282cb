"""The ``acgs-sim`` options for the infrastructure: Redis, PostgreSQL and a front (HAProxy).

Addresses are options; credentials come only from the environment (never the command line,
where ``ps`` shows them to every user):

| variable | what | default |
| --- | --- | --- |
| ``ACGS_SIM_REDIS_USERNAME`` | Redis ACL user | none (the default user) |
| ``ACGS_SIM_REDIS_PASSWORD`` | Redis password (``requirepass`` or the ACL user's) | none |
| ``ACGS_SIM_POSTGRES_USER`` | PostgreSQL role | ``acgs`` |
| ``ACGS_SIM_POSTGRES_PASSWORD`` | its password | none (libpq's other means: ``~/.pgpass``, trust) |
"""

from __future__ import annotations

import argparse
import os
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from acgs_sim.backends import Backends
from acgs_sim.traffic import Via

__all__ = ["ENVIRONMENT", "add_infra_options", "backends_from_args", "via_from_args"]

REDIS_USERNAME_ENV = "ACGS_SIM_REDIS_USERNAME"
REDIS_PASSWORD_ENV = "ACGS_SIM_REDIS_PASSWORD"  # noqa: S105 (a variable's name)
POSTGRES_USER_ENV = "ACGS_SIM_POSTGRES_USER"
POSTGRES_PASSWORD_ENV = "ACGS_SIM_POSTGRES_PASSWORD"  # noqa: S105 (a variable's name)
ENVIRONMENT = (REDIS_USERNAME_ENV, REDIS_PASSWORD_ENV, POSTGRES_USER_ENV, POSTGRES_PASSWORD_ENV)
DEFAULT_DATABASE = "acgs"
DEFAULT_POSTGRES_USER = "acgs"


def add_infra_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "infrastructure",
        "Redis, PostgreSQL and a load balancer in front (all optional). Credentials only from "
        f"the environment: {', '.join(ENVIRONMENT)}.",
    )
    group.add_argument(
        "--redis",
        metavar="HOST:PORT",
        help="use this Redis: principle lookups cached (ac, pgc), sessions stored (auth)",
    )
    group.add_argument(
        "--postgres",
        metavar="HOST:PORT",
        help="use this PostgreSQL: governance actions (gs, pgc) and decisions (pgc) written",
    )
    group.add_argument(
        "--postgres-db",
        default=DEFAULT_DATABASE,
        metavar="NAME",
        help="the database (it must exist; the tables are created) (%(default)s)",
    )
    group.add_argument(
        "--via",
        metavar="URL",
        help="send the background traffic through this front (e.g. HAProxy): "
        "URL/<service><path>, the front strips /<service>",
    )
    group.add_argument("--via-ca", type=Path, help="for an https --via: trust only this CA")


def _address(flag: str, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{flag} {value!r}: expected HOST:PORT, e.g. 127.0.0.1:6379")
    return host, int(port)


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def backends_from_args(args: argparse.Namespace) -> Backends:
    """The backends the options name (nothing is contacted yet)."""
    redis = postgres = None
    # Imported here: psycopg and redis take a second to load, which a simulator without
    # them should not pay.
    if args.redis:
        from acgs_sim.store_redis import RedisBackend, RedisOptions

        host, port = _address("--redis", args.redis)
        redis = RedisBackend(
            RedisOptions(host, port, _env(REDIS_USERNAME_ENV), _env(REDIS_PASSWORD_ENV))
        )
    if args.postgres:
        from acgs_sim.store_postgres import PostgresBackend, PostgresOptions

        host, port = _address("--postgres", args.postgres)
        if not args.postgres_db:
            raise ValueError("--postgres-db must name a database")
        user = _env(POSTGRES_USER_ENV) or DEFAULT_POSTGRES_USER
        postgres = PostgresBackend(
            PostgresOptions(host, port, args.postgres_db, user, _env(POSTGRES_PASSWORD_ENV))
        )
    return Backends(redis=redis, postgres=postgres)


def via_from_args(args: argparse.Namespace) -> Via | None:
    if args.via is None:
        if args.via_ca is not None:
            raise ValueError("--via-ca needs --via")
        return None
    parts = urlsplit(args.via)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--via {args.via!r}: expected an http(s) URL, e.g. http://127.0.0.1:8080")
    if parts.username or parts.password:
        raise ValueError("--via: no credentials in the URL (they would show in ps)")
    verify: ssl.SSLContext | bool = True
    if args.via_ca is not None:
        if parts.scheme != "https":
            raise ValueError("--via-ca needs an https --via")
        try:
            verify = ssl.create_default_context(cafile=str(args.via_ca))
        except (OSError, ssl.SSLError) as error:
            raise ValueError(
                f"--via-ca {args.via_ca}: cannot load a CA certificate ({error})"
            ) from None
    return Via(args.via.rstrip("/"), verify)
