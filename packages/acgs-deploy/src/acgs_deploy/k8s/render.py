"""The files of a kubernetes render, by name, in the order ``kubectl apply -f DIR`` reads them
(the namespace first). The output depends only on the settings, the namespace and the source
files: two renders give the same bytes.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from acgs_deploy.errors import UsageError
from acgs_deploy.k8s import labels, objects
from acgs_deploy.k8s.alerting import alertmanager_config
from acgs_deploy.k8s.rules import rule_manifests
from acgs_deploy.render import RenderError, dashboards_source
from acgs_deploy.settings import StackSettings

__all__ = ["HEADER", "NAMESPACE", "check_namespace", "render_files"]

HEADER = "# Rendered by acgs-deploy (invoke deploy --target kubernetes): edit the sources.\n"
# An RFC 1123 label, what Kubernetes accepts as a namespace name.
NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# Kubernetes refuses a ConfigMap larger than this.
CONFIGMAP_LIMIT = 1024 * 1024
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DATASOURCE_LABEL = {"grafana_datasource": "1"}
# The folder Grafana's dashboard sidecar files them in (its folderAnnotation setting).
FOLDER_ANNOTATION = {"grafana_folder": "ACGS"}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (dashboards, provisioning files) as literal blocks, readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(documents: list[dict[str, Any]]) -> str:
    return HEADER + "---\n".join(
        yaml.dump(d, Dumper=_Dumper, sort_keys=False, width=100) for d in documents
    )


def check_namespace(namespace: str) -> str:
    if not NAMESPACE.fullmatch(namespace):
        raise UsageError(
            f"--namespace {namespace!r}: not a Kubernetes namespace name; use at most 63 "
            "lowercase letters, digits and '-', starting and ending with a letter or digit "
            "(e.g. monitoring)"
        )
    return namespace


def render_files(settings: StackSettings, namespace: str) -> dict[str, str]:
    """Every file of the output directory, by name."""
    ns = check_namespace(namespace)
    am_config, resolve_timeout = alertmanager_config(settings, ns)
    files = {
        "00-namespace.yaml": dump([objects.namespace(ns)]),
        "10-rbac.yaml": dump(objects.rbac(ns)),
        "20-prometheus.yaml": dump([objects.prometheus(settings, ns)]),
        "21-alertmanager.yaml": dump(
            [objects.alertmanager(settings, ns, resolve_timeout), am_config]
        ),
        "22-services.yaml": dump(objects.services(ns)),
        "30-servicemonitors.yaml": dump(objects.service_monitors(settings, ns)),
        "50-network-policy.yaml": dump([objects.network_policy(ns)]),
    }
    for manifest in rule_manifests(settings.rules_dir, ns):
        files[f"40-{manifest.name}.yaml"] = manifest.text
    datasource, dashboards = _grafana_files()
    files["60-grafana.yaml"] = dump([objects.grafana_env(ns), _datasource(ns, datasource)])
    files["61-dashboards.yaml"] = dump(
        [_dashboard(ns, name, text) for name, text in sorted(dashboards.items())]
    )
    return files


def _grafana_files() -> tuple[str, dict[str, str]]:
    """The datasource provisioning file and the dashboards (by file name), exactly as
    ``acgs-dashboards build`` writes them."""
    from acgs_dashboards.build import BuildError, build_all

    with tempfile.TemporaryDirectory(prefix="acgs-k8s-dashboards-") as scratch:
        out = Path(scratch)
        try:
            built = build_all(out, dashboards_source())
        except BuildError as error:
            raise RenderError(f"dashboards: {error}") from None
        dashboards = {path.name: path.read_text(encoding="utf-8") for path in built.dashboards}
        datasource = (out / "provisioning" / "datasources" / "acgs.yml").read_text("utf-8")
    return datasource, dashboards


def _configmap(name: str, ns: str, data: dict[str, str], extra: dict[str, str]) -> dict[str, Any]:
    size = sum(len(k) + len(v.encode()) for k, v in data.items())
    if size > CONFIGMAP_LIMIT:
        raise RenderError(
            f"{', '.join(data)}: {size} bytes, over the 1 MiB a ConfigMap holds: split it"
        )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {**labels("grafana"), **extra}},
        "data": data,
    }


def _datasource(ns: str, text: str) -> dict[str, Any]:
    return _configmap("acgs-grafana-datasource", ns, {"acgs.yml": text}, DATASOURCE_LABEL)


def _dashboard(ns: str, file_name: str, text: str) -> dict[str, Any]:
    configmap = _configmap(
        f"acgs-dashboard-{Path(file_name).stem.removeprefix('acgs-')}",
        ns,
        {file_name: text},
        DASHBOARD_LABEL,
    )
    configmap["metadata"]["annotations"] = dict(FOLDER_ANNOTATION)
    return configmap
