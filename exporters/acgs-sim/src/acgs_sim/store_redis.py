"""Redis for acgs-sim: one thread-safe, pooled client with short timeouts and no retries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from acgs_sim.backends import BackendHealth

__all__ = ["RedisBackend", "RedisOptions"]

TIMEOUT_S = 0.5


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
