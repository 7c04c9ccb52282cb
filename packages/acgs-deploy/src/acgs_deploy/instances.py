"""Every server a topology runs, in one list: its name (pid file, log, data directory, status
row), its role, its port(s) and the stack-file key that sets each, and the external labels
that set it apart from its replicas.

Topology single: one ``prometheus`` and one ``alertmanager`` (and ``victoriametrics`` when
``long_term_storage`` asks for it). Topology ha (docs/topology.md): Prometheus servers
``prometheus``, ``prometheus-1`` ... (shards x replicas; each with a ``replica`` external
label), Alertmanager peers ``alertmanager``, ``alertmanager-1`` ... gossiping on their cluster
ports, ``victoriametrics`` (the long-term store) and ``query`` (HAProxy, the one query
endpoint); with ``prometheus_shards > 1`` each server also has a ``shard`` label, and
``vmalert`` evaluates the global rule groups against VictoriaMetrics. The first Prometheus
and Alertmanager keep the single topology's names, ports and data directories, so a stack
grows from single to ha without losing its data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from acgs_deploy.settings import StackSettings

__all__ = [
    "Instance",
    "Role",
    "alertmanager_instances",
    "instances",
    "numbered_role",
    "prometheus_instances",
    "query_instance",
    "victoriametrics_instance",
    "vmalert_instance",
]

Role = Literal["prometheus", "alertmanager", "victoriametrics", "query", "vmalert"]
# The external label that tells the replicas of one shard apart; the long-term store drops it.
REPLICA_LABEL = "replica"
# The external label of a shard's servers (prometheus_shards > 1), kept in the long-term store.
SHARD_LABEL = "shard"


@dataclass(frozen=True)
class Instance:
    name: str
    role: Role
    index: int  # its place among the servers of its role, from 0
    port: int
    port_key: str  # the stack-file key its port comes from
    # Prometheus: the external labels it adds to the settings' own (replica, shard).
    labels: Mapping[str, str] = field(default_factory=dict)
    replica: int = 0
    shard: int = 0
    cluster_port: int | None = None  # Alertmanager gossip (topology ha)

    @property
    def config_file(self) -> str:
        """Its configuration file in the config directory (Prometheus and Alertmanager)."""
        if self.role == "prometheus":
            return "prometheus.yml" if self.index == 0 else f"{self.name}.yml"
        if self.role == "alertmanager":
            return "alertmanager.yml"  # one file for the whole cluster
        return f"{self.name}.cfg"

    @property
    def description(self) -> str:
        """Its role as status shows it ("prometheus replica 1", "alertmanager peer 2")."""
        if self.role == "prometheus" and self.labels:
            shard = f" shard {self.shard}" if "shard" in self.labels else ""
            return f"prometheus{shard} replica {self.replica}"
        if self.role == "alertmanager" and self.cluster_port is not None:
            return f"alertmanager peer {self.index}"
        roles = {
            "victoriametrics": "long-term store",
            "query": "query endpoint",
            "vmalert": "global ruler",
        }
        return roles.get(self.role, self.role)


def _numbered(role: str, index: int) -> str:
    return role if index == 0 else f"{role}-{index}"


def numbered_role(name: str) -> str:
    """A component's name without the number `_numbered` gave it: peers share it
    ("alertmanager-2" -> "alertmanager"; "node_exporter" stays)."""
    base, _, number = name.rpartition("-")
    return base if base and number.isdigit() else name


def prometheus_instances(settings: StackSettings) -> list[Instance]:
    plan = settings.topology_plan
    ha = settings.topology == "ha"
    found = []
    for index in range(plan.prometheus_count):
        shard, replica = divmod(index, plan.prometheus_replicas)
        found.append(
            Instance(
                name=_numbered("prometheus", index),
                role="prometheus",
                index=index,
                port=settings.prometheus_port
                if index == 0
                else settings.prometheus_replica_base_port + index - 1,
                port_key="prometheus_port" if index == 0 else "prometheus_replica_base_port",
                labels=_labels(ha, plan.prometheus_shards, shard, replica),
                replica=replica,
                shard=shard,
            )
        )
    return found


def _labels(ha: bool, shards: int, shard: int, replica: int) -> dict[str, str]:
    """A Prometheus server's own external labels: its replica (ha), and shard when sharded."""
    if not ha:
        return {}
    return {REPLICA_LABEL: str(replica), **({SHARD_LABEL: str(shard)} if shards > 1 else {})}


def alertmanager_instances(settings: StackSettings) -> list[Instance]:
    ha = settings.topology == "ha"
    return [
        Instance(
            name=_numbered("alertmanager", index),
            role="alertmanager",
            index=index,
            port=settings.alertmanager_port
            if index == 0
            else settings.alertmanager_replica_base_port + index - 1,
            port_key="alertmanager_port" if index == 0 else "alertmanager_replica_base_port",
            cluster_port=settings.alertmanager_cluster_base_port + index if ha else None,
        )
        for index in range(settings.topology_plan.alertmanager_replicas)
    ]


def victoriametrics_instance(settings: StackSettings) -> Instance | None:
    if settings.topology_plan.long_term_storage != "victoriametrics":
        return None
    return Instance(
        "victoriametrics",
        "victoriametrics",
        0,
        settings.victoriametrics_port,
        "victoriametrics_port",
    )


def query_instance(settings: StackSettings) -> Instance | None:
    if settings.topology != "ha":
        return None
    return Instance("query", "query", 0, settings.query_port, "query_port")


def vmalert_instance(settings: StackSettings) -> Instance | None:
    """The global ruler: only when sharded (with one shard every rule runs on Prometheus)."""
    if settings.topology != "ha" or settings.topology_plan.prometheus_shards < 2:
        return None
    return Instance("vmalert", "vmalert", 0, settings.vmalert_port, "vmalert_port")


def instances(settings: StackSettings) -> list[Instance]:
    """Every server of the topology, the long-term store, global ruler and query endpoint last."""
    extra = [
        victoriametrics_instance(settings),
        vmalert_instance(settings),
        query_instance(settings),
    ]
    return [
        *prometheus_instances(settings),
        *alertmanager_instances(settings),
        *(instance for instance in extra if instance is not None),
    ]
