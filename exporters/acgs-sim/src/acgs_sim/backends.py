"""The infrastructure the services use when given: Redis (cache, sessions) and PostgreSQL.

    backends = Backends(redis=RedisBackend(RedisOptions("127.0.0.1", 6379)),
                        postgres=PostgresBackend(PostgresOptions("127.0.0.1", 5432)))

(the clients live in :mod:`acgs_sim.store_redis` and :mod:`acgs_sim.store_postgres`)

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# Annotations only: acgs_sim.infra imports them when asked for (psycopg and redis take a
# second to load, which a simulator without them should not pay).
if TYPE_CHECKING:
    from acgs_sim.store_postgres import PostgresBackend
    from acgs_sim.store_redis import RedisBackend

__all__ = ["BackendDown", "BackendHealth", "Backends"]

log = logging.getLogger("acgs_sim")

PRINCIPLE_TTL_S = 30
SESSION_TTL_S = 600
# How long the source of a principle takes when the cache cannot answer.
PRINCIPLE_SOURCE_S = 0.02


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
