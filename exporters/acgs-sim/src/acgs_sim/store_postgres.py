"""PostgreSQL for acgs-sim: one shared connection, its schema ensured on every connect."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from acgs_sim.backends import BackendHealth

__all__ = ["SCHEMA", "PostgresBackend", "PostgresOptions"]

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
