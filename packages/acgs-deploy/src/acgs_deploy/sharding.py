"""Hashmod scrape sharding (``prometheus_shards: N > 1``, topology ha).

Every scrape job of shard ``i`` keeps the targets whose address hashes to ``i``:

    relabel_configs:
      - {source_labels: [__address__], modulus: N, target_label: __tmp_hash, action: hashmod}
      - {source_labels: [__tmp_hash], regex: "i", action: keep}

so each target is scraped by exactly one shard (by both of its replicas). :func:`shard_of` is
Prometheus' own hashmod (md5 of the address, its last 8 bytes as a big-endian integer, modulo
N), so the split is known before anything starts: :func:`split` refuses more shards than
targets, or a shard the addresses leave empty, naming the keys to change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from acgs_deploy.errors import DeployError

__all__ = ["ShardingError", "shard_of", "split"]


class ShardingError(DeployError):
    """The targets cannot be split over the shards; the message names the keys."""


def shard_of(address: str, shards: int) -> int:
    """The shard that scrapes ``address`` (``host:port``), as Prometheus' hashmod computes it."""
    digest = hashlib.md5(address.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % shards


def split(targets: Sequence[str], shards: int) -> list[list[str]]:
    """``targets`` by shard; :class:`ShardingError` when a shard would scrape nothing."""
    parts: list[list[str]] = [[] for _ in range(shards)]
    for target in targets:
        parts[shard_of(target, shards)].append(target)
    if shards > len(targets):
        raise ShardingError(
            f"prometheus_shards is {shards} but the stack scrapes {len(targets)} targets: "
            "a shard needs at least one. Lower prometheus_shards, or scrape more targets "
            "(sim_replicas runs more instances of each ACGS service)"
        )
    empty = [str(index) for index, part in enumerate(parts) if not part]
    if empty:
        raise ShardingError(
            f"prometheus_shards {shards}: hashmod on the {len(targets)} target addresses "
            f"leaves shard(s) {', '.join(empty)} with nothing to scrape. Lower "
            "prometheus_shards, or scrape more targets (sim_replicas)"
        )
    return parts
