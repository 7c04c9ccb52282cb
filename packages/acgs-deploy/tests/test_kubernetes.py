"""The kubernetes target, rendered for real from this repository's rules and dashboards and
checked with the operator's models and the Kubernetes schemas (no cluster runs here)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from acgs_dashboards.build import build_all
from acgs_deploy import backends, commands
from acgs_deploy.backends.base import DeployOptions, validate_or_discard
from acgs_deploy.backends.kubernetes import MARKER, KubernetesBackend
from acgs_deploy.errors import DeployError
from acgs_deploy.k8s.rules import rule_manifests
from acgs_deploy.k8s.validate import ManifestError, validate_directory
from acgs_deploy.render import RenderError, dashboards_source
from acgs_deploy.rulefiles import count_rules, rule_files
from acgs_deploy.settings import REPO_ROOT, StackSettings

NS = "acgs-mon"


def render(settings: StackSettings, out: Path, namespace: str = NS) -> KubernetesBackend:
    backend = KubernetesBackend(settings, DeployOptions(out=out, namespace=namespace))
    backends.deploy(backend)
    return backend


def documents(directory: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(directory.glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            yield path.name, obj


@pytest.fixture(scope="module")
def repo_settings(tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    """This repository's rules (the default rules_dir) in a temporary state directory."""
    return StackSettings.load(tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def rendered(repo_settings: StackSettings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render") / "k8s"
    render(repo_settings, out)
    return out


def by_kind(directory: Path) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for _, obj in documents(directory):
        kinds.setdefault(obj["kind"], []).append(obj)
    return kinds


def test_every_rendered_object_validates(rendered: Path) -> None:
    kinds = by_kind(rendered)
    assert validate_directory(rendered) == sum(len(objs) for objs in kinds.values())
    assert {k: len(v) for k, v in kinds.items()} == {
        "Namespace": 1,
        "ServiceAccount": 1,
        "ClusterRole": 1,
        "ClusterRoleBinding": 1,
        "Prometheus": 1,
        "Alertmanager": 1,
        "AlertmanagerConfig": 1,
        "Service": 2,
        "ServiceMonitor": 10,  # seven ACGS services, node-exporter, Prometheus, Alertmanager
        "PrometheusRule": len(rule_files(REPO_ROOT / "rules")),
        "NetworkPolicy": 1,
        "ConfigMap": 2 + len(list(dashboards_source().glob("*.py"))),
    }
    for kind, objs in kinds.items():
        for obj in objs:
            if kind not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                assert obj["metadata"]["namespace"] == NS
            assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "acgs-monitoring"
    assert (rendered / MARKER).is_file()


def test_objects_follow_the_settings(rendered: Path, repo_settings: StackSettings) -> None:
    kinds = by_kind(rendered)
    spec = kinds["Prometheus"][0]["spec"]
    assert (spec["replicas"], spec["shards"], spec["retention"]) == (1, 1, "15d")
    assert spec["externalLabels"] == repo_settings.external_labels
    assert "remoteWrite" not in spec  # single topology: no long-term store
    assert spec["web"]["tlsConfig"]["keySecret"] == {
        "name": "acgs-monitoring-tls",
        "key": "tls.key",
    }
    monitors = {m["metadata"]["name"]: m["spec"] for m in kinds["ServiceMonitor"]}
    auth = monitors["acgs-auth"]["endpoints"][0]
    assert (auth["targetPort"], auth["interval"]) == (8000, repo_settings.acgs_scrape_interval)
    assert {"action": "replace", "targetLabel": "job", "replacement": "acgs-auth"} in auth[
        "relabelings"
    ]
    assert monitors["acgs-node-exporter"]["endpoints"][0]["interval"] == "15s"
    # The AlertmanagerConfig carries the template's routes.
    route = kinds["AlertmanagerConfig"][0]["spec"]["route"]
    assert route["groupBy"] == ["alertname", "service"]
    critical = route["routes"][0]
    assert critical["matchers"] == [{"name": "severity", "value": "critical", "matchType": "="}]
    assert critical["groupWait"] == "5s"
    grafana = next(c for c in kinds["ConfigMap"] if c["metadata"]["name"] == "acgs-grafana-env")
    assert grafana["data"]["GF_SECURITY_ADMIN_USER"] == "acgs_admin"
    policy = kinds["NetworkPolicy"][0]["spec"]
    assert policy["ingress"] == [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NS}}}]}
    ]


def test_the_models_are_prometheus_operator_v0_80() -> None:
    """What docs/kubernetes.md says: fields v0.80.0 added are there, v0.81.0's are not."""
    from cloudcoil.models.prometheus_operator import v1

    prometheus = v1.PrometheusSpec.model_fields
    assert {"service_name", "scrape_failure_log_file"} <= set(prometheus)
    assert "enable_service_links" not in prometheus
    assert "service_name" not in v1.AlertmanagerSpec.model_fields


def test_ha_topology_sets_replicas_shards_and_remote_write(tmp_path: Path) -> None:
    settings = StackSettings.load(
        tmp_path / "state",
        topology="ha",
        prometheus_replicas=2,
        prometheus_shards=3,
        alertmanager_replicas=3,
    )
    render(settings, tmp_path / "out")
    kinds = by_kind(tmp_path / "out")
    spec = kinds["Prometheus"][0]["spec"]
    assert (spec["replicas"], spec["shards"]) == (2, 3)
    (remote,) = spec["remoteWrite"]
    assert remote["url"] == f"https://victoria-metrics.{NS}.svc:8428/api/v1/write"
    assert remote["writeRelabelConfigs"] == [{"action": "labeldrop", "regex": "replica"}]
    assert kinds["Alertmanager"][0]["spec"]["replicas"] == 3


def test_receivers_are_secret_references_never_values(tmp_path: Path) -> None:
    secret_values = ("pd-key-0123456789", "https://hooks.example.com/T0/B0/xyz", "smtp-pw-42")
    settings = StackSettings.load(
        tmp_path / "state",
        pagerduty_routing_key=secret_values[0],
        slack_webhook_url=secret_values[1],
        slack_channel="#acgs-oncall",
        alert_email_to="oncall@example.com",
        smtp_smarthost="smtp.example.com:587",
        smtp_from="alerts@example.com",
        smtp_username="alerts",
        smtp_password=secret_values[2],
    )
    render(settings, tmp_path / "out")
    text = "".join(p.read_text() for p in (tmp_path / "out").iterdir())
    for value in secret_values:
        assert value not in text
    config = by_kind(tmp_path / "out")["AlertmanagerConfig"][0]["spec"]
    receivers = {r["name"]: r for r in config["receivers"]}
    critical = receivers["critical"]
    ref = {"name": "acgs-alert-receivers", "key": "pagerduty-routing-key"}
    assert critical["pagerdutyConfigs"] == [{"routingKey": ref, "sendResolved": True}]
    assert critical["slackConfigs"][0]["apiURL"]["key"] == "slack-webhook-url"
    assert critical["slackConfigs"][0]["channel"] == "#acgs-oncall"
    email = receivers["default"]["emailConfigs"][0]
    assert email["to"] == "oncall@example.com"
    assert email["smarthost"] == "smtp.example.com:587"
    assert email["authPassword"] == {"name": "acgs-alert-receivers", "key": "smtp-password"}
    assert "pagerdutyConfigs" not in receivers["warning"]


CORRUPTIONS = [
    # (file, change, what the refusal must name)
    (
        "20-prometheus.yaml",
        lambda o: o["spec"].update(replicas="two"),
        ["20-prometheus.yaml", f"Prometheus {NS}/acgs", "spec.replicas"],
    ),
    (
        "30-servicemonitors.yaml",
        lambda o: o["spec"]["endpoints"][0].update(intervall="5s"),
        ["ServiceMonitor", "spec.endpoints[0].intervall", "unknown field"],
    ),
    (
        "50-network-policy.yaml",
        lambda o: o["spec"].update(podSelectr={}),
        [f"NetworkPolicy {NS}/acgs-monitoring-ingress", "spec", "'podSelectr' was unexpected"],
    ),
    (
        "22-services.yaml",
        lambda o: o["spec"]["ports"][0].update(port="web"),
        [f"Service {NS}/acgs-prometheus", "spec.ports[0].port"],
    ),
    (
        "40-acgs-rules-slo.yaml",
        lambda o: o["metadata"].update(name="ACGS_slo"),
        ["PrometheusRule", "metadata.name: 'ACGS_slo' is not a Kubernetes name"],
    ),
]


def corrupt(directory: Path, name: str, change: Any) -> None:
    objs = list(yaml.safe_load_all((directory / name).read_text()))
    change(objs[0])
    (directory / name).write_text(yaml.safe_dump_all(objs))


@pytest.mark.parametrize(("name", "change", "named"), CORRUPTIONS)
def test_a_corrupted_field_is_refused_naming_object_and_field(
    rendered: Path, tmp_path: Path, name: str, change: Any, named: list[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(rendered, copy)
    corrupt(copy, name, change)
    with pytest.raises(ManifestError) as refused:
        validate_directory(copy)
    for part in named:
        assert part in str(refused.value)


def test_a_refused_render_keeps_the_last(
    repo_settings: StackSettings, rendered: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(rendered, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    backend = KubernetesBackend(repo_settings, DeployOptions(out=out, namespace=NS))
    staged = backend.render()
    name, change, named = CORRUPTIONS[0]
    corrupt(staged.staging, name, change)
    with pytest.raises(ManifestError, match=named[-1]):
        validate_or_discard(backend, staged)
    assert not staged.staging.exists()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_rules_carry_every_rule_line_for_line(rendered: Path) -> None:
    sources = rule_files(REPO_ROOT / "rules")
    total = 0
    for source in sources:
        manifest = rendered / f"40-acgs-rules-{source.stem.removeprefix('acgs-')}.yaml"
        obj = yaml.safe_load(manifest.read_text())
        assert obj["spec"] == yaml.safe_load(source.read_text())
        source_lines = source.read_text().splitlines()
        manifest_lines = manifest.read_text().splitlines()
        offset = len(manifest_lines) - len(source_lines)
        for number, line in enumerate(source_lines):
            assert manifest_lines[number + offset] == (f"  {line}" if line.strip() else line)
        total += sum(len(g["rules"]) for g in obj["spec"]["groups"])
    assert total == count_rules(REPO_ROOT / "rules")


def test_rule_file_names_become_kubernetes_names(tmp_path: Path) -> None:
    (tmp_path / "My_Rules.yml").write_text(BAD_RULE)
    (manifest,) = rule_manifests(tmp_path, NS)
    assert manifest.name == "acgs-rules-my-rules"
    (tmp_path / "my-rules.yaml").write_text(BAD_RULE)
    with pytest.raises(RenderError, match="acgs-rules-my-rules"):
        rule_manifests(tmp_path, NS)


def test_dashboards_are_byte_identical_to_the_build(rendered: Path, tmp_path: Path) -> None:
    built = build_all(tmp_path / "grafana", dashboards_source())
    maps = by_kind(rendered)["ConfigMap"]
    carried = {k: v for m in maps for k, v in m["data"].items() if k.endswith(".json")}
    assert sorted(carried) == sorted(p.name for p in built.dashboards)
    for path in built.dashboards:
        assert carried[path.name].encode() == path.read_bytes()
    datasource = next(m for m in maps if m["metadata"]["name"] == "acgs-grafana-datasource")
    expected = (tmp_path / "grafana" / "provisioning" / "datasources" / "acgs.yml").read_bytes()
    assert datasource["data"]["acgs.yml"].encode() == expected
    for m in maps:
        if m["metadata"]["name"].startswith("acgs-dashboard-"):
            assert m["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_render_is_deterministic(
    repo_settings: StackSettings, rendered: Path, tmp_path: Path
) -> None:
    render(repo_settings, tmp_path / "again")
    first = {p.name: p.read_bytes() for p in rendered.iterdir()}
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "again").iterdir()}


def test_a_new_render_replaces_the_last(repo_settings: StackSettings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    render(repo_settings, out, namespace="first")
    render(repo_settings, out, namespace="second")
    assert "namespace: first" not in "".join(p.read_text() for p in out.glob("*.yaml"))
    assert not list(tmp_path.glob(".out-*"))  # no staging or previous copy left behind


BAD_RULE = """groups:
  - name: bad
    rules:
      - alert: NoSeverity
        expr: up == 0
"""


def deploy_error(capsys: pytest.CaptureFixture[str], **flags: Any) -> tuple[int, str]:
    code = commands.deploy(target="kubernetes", console=Console(file=None), **flags)
    return code, capsys.readouterr().err


def test_bad_input_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    code, err = deploy_error(capsys, namespace="Bad_NS", out=out, state_dir=state)
    assert code == 2
    assert "--namespace 'Bad_NS': not a Kubernetes namespace name" in err
    code, err = deploy_error(capsys, namespace="", out=out, state_dir=state)
    assert (code, "--namespace '': not a Kubernetes namespace name" in err) == (2, True)
    monkeypatch.setenv("ACGS_TOPOLOGY", "ha")
    monkeypatch.setenv("ACGS_PROMETHEUS_REPLICAS", "0")
    code, err = deploy_error(capsys, out=out, state_dir=state)
    assert code == 1  # settings errors are EXIT_FAILED
    assert "prometheus_replicas (env ACGS_PROMETHEUS_REPLICAS)" in err
    assert "greater than or equal to 1" in err
    monkeypatch.delenv("ACGS_PROMETHEUS_REPLICAS")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yml").write_text(BAD_RULE)
    monkeypatch.setenv("ACGS_RULES_DIR", str(rules))
    code, err = deploy_error(capsys, out=out, state_dir=state)
    assert code == 1
    assert f"{rules / 'bad.yml'}:4: alert/required" in err
    assert not out.exists()  # nothing rendered


def test_out_must_be_new_empty_or_a_render(repo_settings: StackSettings, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.yaml").write_text("a: 1\n")
    with pytest.raises(DeployError, match="not a kubernetes render"):
        render(repo_settings, tmp_path / "mine")
    assert (tmp_path / "mine" / "keep.yaml").read_text() == "a: 1\n"


def test_out_and_namespace_are_for_kubernetes_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = commands.deploy(target="local", out=tmp_path / "out", state_dir=tmp_path / "state")
    assert code == 2
    assert "--out and --namespace apply to --target kubernetes only" in capsys.readouterr().err
