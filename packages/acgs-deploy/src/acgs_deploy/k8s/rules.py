"""One PrometheusRule per rule file, and the lint gate the rule files pass first.

A manifest is a short header (apiVersion, kind, metadata, ``spec:``) followed by the rule file's
own text indented by two spaces: the file's ``groups`` become ``spec.groups`` with every
comment kept (so ``# acgs-rules disable=`` silencing still applies) and every line at a fixed
offset from its line in the rule file (so findings on the manifest point at the same rule).
`rule_manifest` checks the manifest holds exactly the file's data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from acgs_deploy.errors import DeployError
from acgs_deploy.k8s import labels
from acgs_deploy.render import RenderError
from acgs_deploy.rulefiles import rule_files

__all__ = ["RuleManifest", "lint_rules", "rule_manifest", "rule_manifests"]

LINT_SETTINGS = ("config/acgs-rules.yml", "config/acgs-rules.yaml", "acgs-rules.yml")
# Errors shown in a refusal; `acgs-rules lint` on the directory shows them all.
SHOWN_ERRORS = 10


@dataclass(frozen=True)
class RuleManifest:
    source: Path
    name: str  # the PrometheusRule's name
    text: str
    offset: int  # manifest line = rule file line + offset


def _header(name: str, ns: str, source: Path) -> str:
    meta = {"name": name, "namespace": ns, "labels": labels("prometheus")}
    return (
        f"# Rendered by acgs-deploy from {source.name}: edit the rule file, not this one.\n"
        + yaml.safe_dump(
            {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": meta},
            sort_keys=False,
        )
        + "spec:\n"
    )


def rule_manifest(source: Path, ns: str) -> RuleManifest:
    """The PrometheusRule of one rule file; a file whose text cannot be carried verbatim
    (several documents, a YAML directive) is a RenderError naming it."""
    text = source.read_text(encoding="utf-8")
    name = "acgs-rules-" + re.sub(r"[^a-z0-9-]+", "-", source.stem.lower().removeprefix("acgs-"))
    header = _header(name, ns, source)
    body = "".join(f"  {line}" if line.strip() else line for line in text.splitlines(True))
    manifest = header + body + ("" if body.endswith("\n") else "\n")
    try:
        same = yaml.safe_load(manifest).get("spec") == yaml.safe_load(text)
    except (yaml.YAMLError, AttributeError):
        same = False
    if not same:
        raise RenderError(
            f"{source}: cannot be carried into a PrometheusRule line for line (one YAML "
            "document with a top-level 'groups' list, no directives or '---'): rewrite it so"
        )
    return RuleManifest(source, name, manifest, header.count("\n"))


def rule_manifests(rules_dir: Path, ns: str) -> list[RuleManifest]:
    manifests = [rule_manifest(path, ns) for path in rule_files(rules_dir)]
    names = [m.name for m in manifests]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RenderError(
            f"{rules_dir}: rule files that give the same PrometheusRule name "
            f"({', '.join(twice)}; names are lowercase with '-'): rename one"
        )
    return manifests


def lint_rules(rules_dir: Path) -> None:
    """`acgs-rules lint` on the rules directory (rule and test files, with its settings file
    when it has one), as ``nox -s lint_rules`` runs it; errors refuse the render."""
    from acgs_rules.checks.registry import ALL_CHECK_NAMES
    from acgs_rules.lint import lint
    from acgs_rules.promtool import PromtoolMissing
    from acgs_rules.settings import LintSettings, SettingsError

    found = [rules_dir / name for name in LINT_SETTINGS if (rules_dir / name).is_file()]
    try:
        settings = LintSettings.from_file(found[0], ALL_CHECK_NAMES) if found else None
        result = lint([rules_dir], settings)
    except (PromtoolMissing, SettingsError) as error:
        raise DeployError(f"rules_dir: cannot lint {rules_dir}: {error}") from None
    if result.errors:
        shown = [
            f"  {f.path}:{f.line}: {f.check}: {f.message}" for f in result.errors[:SHOWN_ERRORS]
        ]
        more = len(result.errors) - len(shown)
        raise DeployError(
            f"rules_dir: {len(result.errors)} lint error(s) in {rules_dir}, nothing was "
            "rendered:\n"
            + "\n".join(shown)
            + (f"\n  ... and {more} more" if more > 0 else "")
            + f"\nFix the rule files (`acgs-rules lint {rules_dir}` lists every finding)."
        )
