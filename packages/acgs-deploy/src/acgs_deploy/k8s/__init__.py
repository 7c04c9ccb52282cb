"""The stack as prometheus-operator resources and Kubernetes objects (the kubernetes target).

- :mod:`acgs_deploy.k8s.objects`: Prometheus, Alertmanager, ServiceMonitors, Services, RBAC,
  NetworkPolicy and Grafana's ConfigMaps, from the stack settings and the topology plan;
- :mod:`acgs_deploy.k8s.alerting`: the AlertmanagerConfig, translated from the rendered
  ``configs/alertmanager.yml.j2`` (the routes and receivers of the other targets);
- :mod:`acgs_deploy.k8s.rules`: one PrometheusRule per rule file, the file's own text under
  ``spec`` (comments and lines kept), and the lint gate;
- :mod:`acgs_deploy.k8s.validate`: every written object checked, custom resources against the
  operator's typed models (cloudcoil-models-prometheus-operator), core objects against the
  Kubernetes schemas (kubernetes-validate);
- :mod:`acgs_deploy.k8s.render`: the files of the output directory.

Secrets are never rendered: objects name the Secrets the user creates (see `SECRETS`).
"""

from __future__ import annotations

from acgs_deploy.settings import SECRET_FIELDS

__all__ = ["NAME", "PART_OF", "SECRETS", "labels", "receiver_key"]

# The name of the Prometheus, Alertmanager and AlertmanagerConfig resources.
NAME = "acgs"
# Every object we render carries these; the Prometheus selects ServiceMonitors and
# PrometheusRules by them, the NetworkPolicy protects the pods that have them.
PART_OF = {"app.kubernetes.io/part-of": "acgs-monitoring"}


def receiver_key(setting: str) -> str:
    """The key of `RECEIVER_SECRET` that holds a secret receiver setting (smtp_password ->
    smtp-password)."""
    return setting.replace("_", "-")


# Secrets the user creates (never rendered: values stay out of the output directory), by
# name: the keys the rendered objects read from them.
TLS_SECRET = "acgs-monitoring-tls"  # noqa: S105 (a Secret's name)
RECEIVER_SECRET = "acgs-alert-receivers"  # noqa: S105 (a Secret's name)
LONG_TERM_SECRET = "acgs-long-term-storage"  # noqa: S105 (a Secret's name)
GRAFANA_SECRET = "acgs-grafana"  # noqa: S105 (a Secret's name)
SECRETS: dict[str, tuple[str, ...]] = {
    TLS_SECRET: ("tls.crt", "tls.key", "ca.crt"),
    RECEIVER_SECRET: tuple(sorted(map(receiver_key, SECRET_FIELDS))),
    LONG_TERM_SECRET: ("username", "password"),
    GRAFANA_SECRET: (
        "GF_SECURITY_ADMIN_PASSWORD",
        "PROMETHEUS_USERNAME",
        "PROMETHEUS_PASSWORD",
        "ACGS_PROMETHEUS_CA_CERT",
    ),
}


def labels(component: str) -> dict[str, str]:
    """The labels of one rendered object."""
    return {
        "app.kubernetes.io/name": component,
        **PART_OF,
        "app.kubernetes.io/managed-by": "acgs-deploy",
    }
