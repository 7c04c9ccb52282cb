"""The infrastructure the services use when given: Redis (cache, sessions) and PostgreSQL.

    backends = Backends(redis=RedisBackend(RedisOptions("127.0.0.1", 6379)),
                        postgres=PostgresBackend(PostgresOptions("127.0.0.1", 5432)))

- Redis caches principle lookups (ac, pgc: cache-aside, 30 s TTL) and stores auth sessions.
  A cache that is down degrades: lookups go to the source, slower, and still answer. A
  session store that is down fails the request (503).
- PostgreSQL keeps governance actions (gs, pgc) and decisions (pgc) in two tables the
  simulator creates if missing; ``GET /policies`` (gs) counts recent actions. Down: 503.

Neither is required: without them the services behave as before, all in memory. A backend
that cannot be reached never stops the simulator; each call fails fast (a stopped
PostgreSQL is retried at most once a second), errors are counted and shown on ``/health``,
and the log says when a backend goes down and when it comes back.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = [
    "SCHEMA",
    "BackendDown",
    "BackendHealth",
    "Backends",
    "PostgresBackend",
    "PostgresOptions",
    "RedisBackend",
    "RedisOptions",
]

log = logging.getLogger("acgs_sim")

PRINCIPLE_TTL_S = 30
SESSION_TTL_S = 600
# How long the source of a principle takes when the cache cannot answer.
PRINCIPLE_SOURCE_S = 0.02
TIMEOUT_S = 0.5
RECONNECT_EVERY_S = 1.0

# Created idempotently at every connect; the advisory lock keeps several simulators that
# start at once from racing on CREATE TABLE.
SCHEMA = """
SELECT pg_advisory_xact_lock(727001);
CREATE TABLE IF NOT EXISTS governance_actions (
    id          bigserial PRIMARY KEY,
    service     text NOT NULL,
    action_type text NOT NULL,
    cost_sol    double precision NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS governance_actions_created_at ON governance_actions (created_at);
CREATE TABLE IF NOT EXISTS governance_decisions (
    id            bigserial PRIMARY KEY,
    decision_type text NOT NULL,
    outcome       text NOT NULL,
    duration_s    double precision NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
"""


class BackendDown(Exception):
    """A backend could not serve a call; ``str()`` names it and says why."""

    def __init__(self, backend: str, reason: str) -> None:
        super().__init__(f"{backend} unavailable: {reason}")
        self.backend = backend


@dataclass
class BackendHealth:
    """Up or down (from the last call), and how many calls failed; logs each change."""

    name: str
    up: bool | None = None  # None until the first call
    errors: int = 0
    last_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ok(self) -> None:
        with self._lock:
            if self.up is False:
                log.warning("%s is back (%d failed calls while down)", self.name, self.errors)
            self.up = True

    def failed(self, reason: str) -> BackendDown:
        with self._lock:
            self.errors += 1
            self.last_error = reason
            if self.up is not False:
                log.warning("%s unavailable: %s", self.name, reason)
            self.up = False
        return BackendDown(self.name, reason)

    def to_json(self) -> dict[str, Any]:
        state = {None: "unknown", True: "up", False: "down"}[self.up]
        return {"state": state, "errors": self.errors, "last_error": self.last_error or None}


@dataclass(frozen=True)
class RedisOptions:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)


class RedisBackend:
    """One Redis client (thread-safe, pooled) with short timeouts."""

    def __init__(self, options: RedisOptions) -> None:
        self.options = options
        self.health = BackendHealth("redis")
        self._client = redis.Redis(
            host=options.host,
            port=options.port,
            username=options.username,
            password=options.password,
            socket_timeout=TIMEOUT_S,
            socket_connect_timeout=TIMEOUT_S,
            client_name="acgs-sim",
            # redis-py retries a failed call 3 times with backoff (seconds): a request would
            # hang that long on a Redis that is down. Fail at once; the caller degrades.
            retry=Retry(NoBackoff(), 0),
        )

    def call(self, command: Callable[[redis.Redis], Any]) -> Any:
        try:
            result = command(self._client)
        except redis.RedisError as error:
            raise self.health.failed(str(error) or type(error).__name__) from None
        self.health.ok()
        return result

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class PostgresOptions:
    host: str
    port: int
    dbname: str = "acgs"
    user: str = "acgs"
    password: str | None = field(default=None, repr=False)


class PostgresBackend:
    """One connection, shared under a lock (a few writes per second need no more),
    reconnected on demand at most once a second; the schema is ensured on each connect."""

    def __init__(self, options: PostgresOptions) -> None:
        self.options = options
        self.health = BackendHealth("postgresql")
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._next_try = 0.0

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (autocommit); its rows, if it returns any."""
        with self._lock:
            try:
                conn = self._connected()
                with conn.cursor() as cursor:
                    cursor.execute(sql, params)
                    rows = cursor.fetchall() if cursor.description else []
            except psycopg.Error as error:
                if self._conn is not None and (
                    self._conn.broken or isinstance(error, psycopg.OperationalError)
                ):
                    self._drop()
                raise self.health.failed(_first_line(error)) from None
        self.health.ok()
        return rows

    def _connected(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        now = time.monotonic()
        if now < self._next_try:
            raise psycopg.OperationalError(self.health.last_error or "reconnecting")
        self._next_try = now + RECONNECT_EVERY_S
        options = self.options
        conn = psycopg.connect(
            host=options.host,
            port=options.port,
            dbname=options.dbname,
            user=options.user,
            password=options.password,
            connect_timeout=2,
            autocommit=True,
            application_name="acgs-sim",
            options="-c statement_timeout=2000",
        )
        try:
            with conn.transaction():
                conn.execute(SCHEMA)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._drop()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Backends:
    """What the services' handlers call; every method works with or without each backend."""

    def __init__(
        self, redis: RedisBackend | None = None, postgres: PostgresBackend | None = None
    ) -> None:
        self.redis = redis
        self.postgres = postgres

    def principle(self, principle_id: str) -> bool:
        """Look a principle up through the cache; True on a cache hit.

        A miss, or a cache that is down, costs a trip to the source (``PRINCIPLE_SOURCE_S``);
        a cache that is down still answers (degraded), its error counted.
        """
        if self.redis is None:
            return False
        key = f"acgs:principle:{principle_id}"
        try:
            if self.redis.call(lambda r: r.get(key)) is not None:
                return True
        except BackendDown:
            time.sleep(PRINCIPLE_SOURCE_S)
            return False
        time.sleep(PRINCIPLE_SOURCE_S)
        with contextlib.suppress(BackendDown):  # answered from the source all the same
            self.redis.call(lambda r: r.set(key, principle_id, ex=PRINCIPLE_TTL_S))
        return False

    def touch_session(self, session_id: str) -> bool:
        """Read a session from the store, (re)creating it when absent; True if it existed.
        Raises :class:`BackendDown` when the store is down (no session, no answer)."""
        if self.redis is None:
            return True
        key = f"acgs:session:{session_id}"
        existed = self.redis.call(lambda r: r.set(key, "1", ex=SESSION_TTL_S, get=True))
        return existed is not None

    def record_action(self, service: str, action_type: str, cost_sol: float) -> None:
        if self.postgres is not None:
            self.postgres.execute(
                "INSERT INTO governance_actions (service, action_type, cost_sol) "
                "VALUES (%s, %s, %s)",
                (service, action_type, cost_sol),
            )

    def record_decision(self, decision_type: str, outcome: str, duration_s: float) -> None:
        if self.postgres is not None:
            self.postgres.execute(
                "INSERT INTO governance_decisions (decision_type, outcome, duration_s) "
                "VALUES (%s, %s, %s)",
                (decision_type, outcome, duration_s),
            )

    def recent_actions(self) -> int | None:
        """Actions written in the last 10 minutes (None without PostgreSQL)."""
        if self.postgres is None:
            return None
        rows = self.postgres.execute(
            "SELECT count(*) FROM governance_actions WHERE created_at > now() - interval '10 min'"
        )
        return int(rows[0][0])

    def health(self) -> dict[str, Any]:
        found = [b for b in (self.redis, self.postgres) if b is not None]
        return {b.health.name: b.health.to_json() for b in found}

    @property
    def degraded(self) -> bool:
        return any(b.health.up is False for b in (self.redis, self.postgres) if b is not None)

    def close(self) -> None:
        for backend in (self.redis, self.postgres):
            if backend is not None:
                backend.close()
