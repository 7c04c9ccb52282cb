"""The stack's Kubernetes objects, written in the field names of the operator's CRDs and of the
Kubernetes API (what ``kubectl apply`` reads); :mod:`acgs_deploy.k8s.validate` checks each.

What maps to what (docs/kubernetes.md has the table): the local Prometheus is the
``Prometheus`` resource (replicas and shards from `StackSettings.topology_plan`), its scrape
jobs are ``ServiceMonitor`` objects with the same job names and intervals, the Alertmanager
cluster is the ``Alertmanager`` resource, the long-term store is a ``remoteWrite`` entry.
"""

from __future__ import annotations

from typing import Any

from acgs_deploy.k8s import (
    GRAFANA_SECRET,
    LONG_TERM_SECRET,
    NAME,
    PART_OF,
    TLS_SECRET,
    labels,
)
from acgs_deploy.settings import StackSettings
from acgs_metrics.services import SERVICES

__all__ = [
    "GRAFANA_ADMIN_USER",
    "PROMETHEUS_RESOURCES",
    "Object",
    "alertmanager",
    "grafana_env",
    "namespace",
    "network_policy",
    "prometheus",
    "rbac",
    "service_monitors",
    "services",
]

Object = dict[str, Any]

MONITORING_V1 = "monitoring.coreos.com/v1"
PROMETHEUS_SERVICE = "acgs-prometheus"
ALERTMANAGER_SERVICE = "acgs-alertmanager"
SERVICE_ACCOUNT = "acgs-prometheus"
# The label Prometheus HA pairs differ by (as on the local target), dropped before remote write
# so the long-term store deduplicates the pair.
REPLICA_LABEL = "replica"
GRAFANA_ADMIN_USER = "acgs_admin"
# Requests sized for one Prometheus of the guide's load (seven services at 5 s, node and
# stack jobs at 15 s, 15 d retention); the limits leave room for compaction and heavy queries.
# CPU in millicores: the models (0.80.1.0) fail on a plain number ("2") for a quantity.
PROMETHEUS_RESOURCES = {
    "requests": {"cpu": "2000m", "memory": "8Gi"},
    "limits": {"memory": "16Gi"},
}
PROMETHEUS_STORAGE = "100Gi"
ALERTMANAGER_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "512Mi"},
}
# The non-root user of the Prometheus and Alertmanager images.
SECURITY_CONTEXT = {"runAsNonRoot": True, "runAsUser": 65534, "fsGroup": 65534}
NODE_EXPORTER_PORT = 9100
# Where the long-term store (VictoriaMetrics single node, deployed beside the stack) listens.
VICTORIA_METRICS_PORT = 8428


def _meta(name: str, namespace: str, component: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(component)}


def _secret_key(name: str, key: str) -> dict[str, str]:
    return {"name": name, "key": key}


def _server_tls() -> dict[str, Any]:
    """What the Prometheus and Alertmanager web servers present (``web.tlsConfig``)."""
    return {
        "cert": {"secret": _secret_key(TLS_SECRET, "tls.crt")},
        "keySecret": _secret_key(TLS_SECRET, "tls.key"),
    }


def _client_tls(service: str, namespace: str) -> dict[str, Any]:
    """How a client checks one of our servers: our CA, and the Service's name (targets are pod
    addresses, which the certificate does not name)."""
    return {
        "ca": {"secret": _secret_key(TLS_SECRET, "ca.crt")},
        "serverName": f"{service}.{namespace}.svc",
    }


def namespace(name: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels("monitoring")},
    }


def rbac(ns: str) -> list[Object]:
    """What Prometheus needs to discover the ACGS services in every namespace."""
    role_name = f"acgs-prometheus-{ns}"
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(SERVICE_ACCOUNT, ns, "prometheus"),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role_name, "labels": labels("prometheus")},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["services", "endpoints", "pods"],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["get", "list", "watch"],
                },
                {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role_name, "labels": labels("prometheus")},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role_name,
            },
            "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": ns}],
        },
    ]


def prometheus(settings: StackSettings, ns: str) -> Object:
    plan = settings.topology_plan
    spec: dict[str, Any] = {
        "replicas": plan.prometheus_replicas,
        "shards": plan.prometheus_shards,
        "retention": settings.retention,
        "scrapeInterval": settings.scrape_interval,
        "evaluationInterval": settings.evaluation_interval,
        "externalLabels": dict(sorted(settings.external_labels.items())),
        "replicaExternalLabelName": REPLICA_LABEL,
        "serviceAccountName": SERVICE_ACCOUNT,
        "podMetadata": {"labels": dict(PART_OF)},
        "serviceMonitorSelector": {"matchLabels": dict(PART_OF)},
        "ruleSelector": {"matchLabels": dict(PART_OF)},
        "web": {"tlsConfig": _server_tls()},
        "alerting": {
            "alertmanagers": [
                {
                    "namespace": ns,
                    "name": ALERTMANAGER_SERVICE,
                    "port": "web",
                    "scheme": "https",
                    "apiVersion": "v2",
                    "tlsConfig": _client_tls(ALERTMANAGER_SERVICE, ns),
                }
            ]
        },
        "resources": PROMETHEUS_RESOURCES,
        "storage": {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": PROMETHEUS_STORAGE}},
                }
            }
        },
        "securityContext": SECURITY_CONTEXT,
    }
    if plan.long_term_storage == "victoriametrics":
        spec["remoteWrite"] = [
            {
                "url": f"https://victoria-metrics.{ns}.svc:{VICTORIA_METRICS_PORT}/api/v1/write",
                "basicAuth": {
                    "username": _secret_key(LONG_TERM_SECRET, "username"),
                    "password": _secret_key(LONG_TERM_SECRET, "password"),
                },
                "tlsConfig": _client_tls("victoria-metrics", ns),
                "writeRelabelConfigs": [{"action": "labeldrop", "regex": REPLICA_LABEL}],
            }
        ]
    return {
        "apiVersion": MONITORING_V1,
        "kind": "Prometheus",
        "metadata": _meta(NAME, ns, "prometheus"),
        "spec": spec,
    }


def alertmanager(settings: StackSettings, ns: str, resolve_timeout: str) -> Object:
    """The Alertmanager cluster; its configuration is the AlertmanagerConfig `NAME`."""
    return {
        "apiVersion": MONITORING_V1,
        "kind": "Alertmanager",
        "metadata": _meta(NAME, ns, "alertmanager"),
        "spec": {
            "replicas": settings.topology_plan.alertmanager_replicas,
            "podMetadata": {"labels": dict(PART_OF)},
            "web": {"tlsConfig": _server_tls()},
            "alertmanagerConfiguration": {
                "name": NAME,
                "global": {"resolveTimeout": resolve_timeout},
            },
            "resources": ALERTMANAGER_RESOURCES,
            "securityContext": SECURITY_CONTEXT,
        },
    }


def services(ns: str) -> list[Object]:
    """Services in front of the operator's pods: the alerting endpoint, Grafana's datasource
    URL and the self-scrape targets."""
    made = []
    for name, component, port, selector in (
        (PROMETHEUS_SERVICE, "prometheus", 9090, {"prometheus": NAME}),
        (ALERTMANAGER_SERVICE, "alertmanager", 9093, {"alertmanager": NAME}),
    ):
        made.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(name, ns, component),
                "spec": {
                    "selector": selector,
                    "ports": [{"name": "web", "port": port, "targetPort": "web"}],
                },
            }
        )
    return made


def _relabel_job(job: str, extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The job (and other target labels) the local target's scrape config gives these targets,
    so the rules and dashboards read the same series."""
    wanted = {"job": job, **(extra or {})}
    return [
        {"action": "replace", "targetLabel": label, "replacement": value}
        for label, value in wanted.items()
    ]


def _service_monitor(name: str, ns: str, spec: dict[str, Any]) -> Object:
    return {
        "apiVersion": MONITORING_V1,
        "kind": "ServiceMonitor",
        "metadata": _meta(name, ns, "prometheus"),
        "spec": spec,
    }


def service_monitors(settings: StackSettings, ns: str) -> list[Object]:
    """One per ACGS service (the guide's port, ``acgs_scrape_interval``), node-exporter, and the
    stack itself (over TLS), with the local target's job names."""
    monitors = []
    for spec in SERVICES:
        monitors.append(
            _service_monitor(
                f"acgs-{spec.name}",
                ns,
                {
                    "selector": {"matchLabels": {"app.kubernetes.io/name": f"acgs-{spec.name}"}},
                    "namespaceSelector": {"any": True},
                    "endpoints": [
                        {
                            "targetPort": spec.port,
                            "path": "/metrics",
                            "interval": settings.acgs_scrape_interval,
                            "scrapeTimeout": settings.acgs_scrape_interval,
                            "relabelings": _relabel_job(
                                f"acgs-{spec.name}", {"service": spec.name}
                            ),
                        }
                    ],
                },
            )
        )
    monitors.append(
        _service_monitor(
            "acgs-node-exporter",
            ns,
            {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "node-exporter"}},
                "namespaceSelector": {"any": True},
                "endpoints": [
                    {
                        "targetPort": NODE_EXPORTER_PORT,
                        "interval": settings.scrape_interval,
                        "relabelings": _relabel_job("node_exporter"),
                    }
                ],
            },
        )
    )
    for job, service in (
        ("prometheus", PROMETHEUS_SERVICE),
        ("alertmanager", ALERTMANAGER_SERVICE),
    ):
        monitors.append(
            _service_monitor(
                service,
                ns,
                {
                    "selector": {"matchLabels": labels(job)},
                    "endpoints": [
                        {
                            "port": "web",
                            "scheme": "https",
                            "interval": settings.scrape_interval,
                            "tlsConfig": _client_tls(service, ns),
                            "relabelings": _relabel_job(job),
                        }
                    ],
                },
            )
        )
    return monitors


def network_policy(ns: str) -> Object:
    """Only pods of the monitoring namespace reach the stack's pods (Prometheus, Alertmanager,
    and Grafana when it carries the part-of label)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("acgs-monitoring-ingress", ns, "monitoring"),
        "spec": {
            "podSelector": {"matchLabels": dict(PART_OF)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                    ]
                }
            ],
        },
    }


def grafana_env(ns: str) -> Object:
    """Grafana's settings that are not secret (``envFrom`` in its Deployment); the secret ones
    come from the Secret `GRAFANA_SECRET`, which the user creates."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            **_meta("acgs-grafana-env", ns, "grafana"),
            "annotations": {"acgs-monitoring/secret-env-from": GRAFANA_SECRET},
        },
        "data": {
            "GF_SECURITY_ADMIN_USER": GRAFANA_ADMIN_USER,
            "ACGS_PROMETHEUS_URL": f"https://{PROMETHEUS_SERVICE}.{ns}.svc:9090",
        },
    }
