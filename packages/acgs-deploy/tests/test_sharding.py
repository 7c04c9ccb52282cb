"""prometheus_shards > 1: the hashmod split, each shard's rendered config, the rule split by
scope (checked with the real promtool and vmalert), and the errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from acgs_deploy import configstore, haproxy
from acgs_deploy.components import components
from acgs_deploy.render import all_targets, local_topology, render
from acgs_deploy.rulefiles import count_rules
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import SettingsError, StackSettings
from acgs_deploy.sharding import ShardingError, shard_of, split
from acgs_deploy.tls import CertificateInfo, ensure_certificates
from acgs_rules.scope import GLOBAL, SHARD, split_by_scope
from acgs_testkit.paths import REPO_ROOT

Prepared = tuple[Secrets, CertificateInfo]


def sharded_settings(tmp_path: Path, **overrides: Any) -> StackSettings:
    rules = tmp_path / "rules"
    if not rules.exists():
        shutil.copytree(REPO_ROOT / "rules", rules, ignore=shutil.ignore_patterns("tests"))
    values: dict[str, Any] = {
        "rules_dir": rules,
        "topology": "ha",
        "prometheus_shards": 2,
        "prometheus_replicas": 2,
        "sim_base_port": 18000,
        "sim_replicas": 20,
        "prometheus_port": 29090,
        "prometheus_replica_base_port": 29200,
        "alertmanager_port": 29093,
        "alertmanager_replica_base_port": 29300,
        "alertmanager_cluster_base_port": 29400,
        "victoriametrics_port": 29428,
        "query_port": 29190,
        "vmalert_port": 29880,
        "node_exporter_port": 29100,
        "grafana_port": 29500,
        "webhook_port": 29097,
    }
    return StackSettings.load(tmp_path / "state", **(values | overrides))


def test_shard_of_is_prometheus_hashmod() -> None:
    # The md5 of the address, its last 8 bytes big-endian, modulo N (tests/test_ha_shards.py
    # checks it against a real Prometheus).
    digest = hashlib.md5(b"127.0.0.1:18000", usedforsecurity=False).digest()
    assert shard_of("127.0.0.1:18000", 7) == int.from_bytes(digest[8:], "big") % 7
    targets = [f"127.0.0.1:{port}" for port in range(18000, 18140)]
    parts = split(targets, 2)
    assert sorted(parts[0] + parts[1]) == sorted(targets)
    assert not set(parts[0]) & set(parts[1])


def test_more_shards_than_targets_or_an_empty_shard_is_refused() -> None:
    with pytest.raises(ShardingError, match="prometheus_shards is 5 but the stack scrapes 3"):
        split(["a:1", "b:2", "c:3"], 5)
    # Two addresses that hash alike leave the other shard empty.
    same = [t for t in (f"h:{p}" for p in range(100)) if shard_of(t, 2) == 0][:2]
    with pytest.raises(ShardingError, match=r"leaves shard\(s\) 1 with nothing to scrape"):
        split(same, 2)


def test_shards_need_victoriametrics(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="prometheus_shards 2 needs long_term_storage"):
        sharded_settings(tmp_path, long_term_storage="none")


def _render(settings: StackSettings) -> Path:
    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir)
    ensure_certificates(settings)
    haproxy.ensure_pem_bundle(settings.layout)  # what the query endpoint's config names
    staged = configstore.staging_dir(settings.layout)
    render(settings, secrets, local_topology(settings, demo=False), staged)
    return staged


def _kept(job: dict[str, object], shards: int) -> tuple[int, list[str]]:
    """The shard a job keeps (its relabelling) and its targets."""
    relabel = job["relabel_configs"]
    assert isinstance(relabel, list)
    hashmod, keep = relabel
    assert hashmod == {
        "source_labels": ["__address__"],
        "modulus": shards,
        "target_label": "__tmp_hash",
        "action": "hashmod",
    }
    assert keep["action"] == "keep"
    statics = job["static_configs"]
    assert isinstance(statics, list)
    return int(keep["regex"]), [t for s in statics for t in s["targets"]]


def test_each_shard_keeps_its_part_and_the_rules_split_by_scope(tmp_path: Path) -> None:
    settings = sharded_settings(tmp_path)
    staged = _render(settings)
    configstore.validate(staged, settings.rules_dir)  # promtool for all four, vmalert -dryRun
    files = sorted(p.name for p in staged.glob("prometheus*.yml"))
    assert files == ["prometheus-1.yml", "prometheus-2.yml", "prometheus-3.yml", "prometheus.yml"]
    seen: dict[str, set[str]] = {}
    for name in files:
        config = yaml.safe_load((staged / name).read_text())
        labels = config["global"]["external_labels"]
        shard = int(labels["shard"])
        for job in config["scrape_configs"]:
            kept, targets = _kept(job, 2)
            assert kept == shard
            seen.setdefault(labels["replica"] + "/" + str(shard), set()).update(targets)
    # Server k is shard k // 2, replica k % 2: both replicas of a shard keep the same shard.
    assert set(seen) == {"0/0", "1/0", "0/1", "1/1"}
    assert seen["0/0"] == seen["1/0"] == seen["0/1"] == seen["1/1"]  # every job lists all
    assert len([t for t in seen["0/0"] if t.startswith("127.0.0.1:18")]) == 140
    # The shard groups stay with Prometheus, the global ones go to rules/global for vmalert.
    shard_groups = _group_names(staged / "rules")
    global_groups = _group_names(staged / "rules" / "global")
    expected: dict[str, set[str]] = {SHARD: set(), GLOBAL: set()}
    for path in settings.rules_dir.glob("*.yml"):
        for scope, groups in split_by_scope(path.read_text()).items():
            expected[scope] |= {g["name"] for g in groups}
    per_target = {"acgs-services", "monitoring-stack", "node-resources"}
    per_target |= {f"infrastructure-{part}" for part in ("haproxy", "redis", "postgresql")}
    assert shard_groups == expected[SHARD] == per_target | {"infrastructure-exporters"}
    assert global_groups == expected[GLOBAL]
    assert count_rules(staged / "rules") == count_rules(settings.rules_dir)


def _group_names(directory: Path) -> set[str]:
    names: set[str] = set()
    for path in directory.glob("*.yml"):
        names |= {g["name"] for g in yaml.safe_load(path.read_text())["groups"]}
    return names


def test_the_split_covers_every_target_once(tmp_path: Path) -> None:
    settings = sharded_settings(tmp_path)
    targets = all_targets(local_topology(settings, demo=False))
    parts = split(targets, 2)
    assert sum(map(len, parts)) == len(targets) == len(set(targets))
    assert len(targets) == 140 + 4 + 3 + 1 + 1  # fleet, Prometheus, Alertmanagers, node, VM


def test_one_shard_keeps_every_rule_with_prometheus_and_runs_no_vmalert(tmp_path: Path) -> None:
    settings = sharded_settings(tmp_path, prometheus_shards=1)
    staged = _render(settings)
    assert not (staged / "rules" / "global").exists()
    config = yaml.safe_load((staged / "prometheus.yml").read_text())
    assert "shard" not in config["global"]["external_labels"]
    assert all("relabel_configs" not in job for job in config["scrape_configs"])
    assert "vmalert" not in {c.name for c in components(settings, demo=False)}


def test_a_shard_left_without_targets_is_refused_at_render(tmp_path: Path) -> None:
    # 64 shards over 7 services and the stack's own 71 servers: some shards get nothing.
    settings = sharded_settings(tmp_path, prometheus_shards=64, sim_replicas=1)
    with pytest.raises(ShardingError, match="prometheus_shards 64: hashmod on the 140 target"):
        _render(settings)


def test_vmalert_reads_the_global_rules_and_notifies_every_alertmanager(tmp_path: Path) -> None:
    settings = sharded_settings(tmp_path)
    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir)
    (ruler,) = [c for c in components(settings, demo=False, secrets=secrets) if c.name == "vmalert"]
    assert ruler.spec is not None
    argv = ruler.spec.argv
    assert f"-rule={settings.layout.config_dir}/rules/global/*.yml" in argv
    assert "-datasource.url=https://127.0.0.1:29428" in argv
    assert "-remoteWrite.url=https://127.0.0.1:29428" in argv
    notifiers = [a for a in argv if a.startswith("-notifier.url=")]
    assert notifiers == [
        "-notifier.url=https://127.0.0.1:29093",
        "-notifier.url=https://127.0.0.1:29300",
        "-notifier.url=https://127.0.0.1:29301",
    ]
    # No secret in argv; they come from the environment.
    assert not any(secrets.prometheus_password in a for a in argv)
    assert ruler.spec.env is not None
    assert ruler.spec.env["ACGS_VMALERT_datasource_basicAuth_password"] == (
        secrets.prometheus_password
    )


def test_health_expects_of_each_shard_its_own_targets(tmp_path: Path) -> None:
    from acgs_deploy.health import expected_targets

    settings = sharded_settings(tmp_path)
    parts = [expected_targets(settings, shard) for shard in range(2)]
    flat = [{t for found in part.values() for t in found} for part in parts]
    assert not flat[0] & flat[1]
    assert flat[0] | flat[1] == set(all_targets(local_topology(settings, demo=False)))
    assert all(found for part in parts for found in part.values())  # no job left empty
