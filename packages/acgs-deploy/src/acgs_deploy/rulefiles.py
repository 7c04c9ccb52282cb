"""The alerting and recording rule files of a rules directory, and how many rules they hold.

Prometheus loads ``rules/*.yml`` and ``rules/*.yaml`` of the rendered configuration (see
``configs/prometheus.yml.j2``); these are the files `acgs_deploy.render` copies there.
"""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["GLOBAL_RULES_DIR", "RULE_FILE_PATTERNS", "count_rules", "rule_files"]

RULE_FILE_PATTERNS = ("*.yml", "*.yaml")
# Sharded (prometheus_shards > 1), the global rule groups go here, below the rendered
# rules/, for vmalert; the shards' Prometheus load only rules/*.yml.
GLOBAL_RULES_DIR = "global"


def rule_files(directory: Path) -> list[Path]:
    """The rule files directly in `directory`, by name; none when it is not a directory."""
    if not directory.is_dir():
        return []
    found = {path for pattern in RULE_FILE_PATTERNS for path in directory.glob(pattern)}
    return sorted(path for path in found if path.is_file())


def count_rules(directory: Path) -> int:
    """How many rules (alerts and recordings) the rule files in `directory` hold, with those
    of its `GLOBAL_RULES_DIR` (a sharded stack's vmalert rules).

    Called on files promtool has accepted; a file that is not a rule file counts 0.
    """
    total = 0
    for path in [*rule_files(directory), *rule_files(directory / GLOBAL_RULES_DIR)]:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        groups = document.get("groups") if isinstance(document, dict) else None
        for group in groups if isinstance(groups, list) else []:
            rules = group.get("rules") if isinstance(group, dict) else None
            total += len(rules) if isinstance(rules, list) else 0
    return total
