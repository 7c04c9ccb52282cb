"""What real promtool says, for tests that check our code agrees with it."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["rules_accepted"]


def rules_accepted(rules: Sequence[Mapping[str, Any]], folder: Path) -> list[bool]:
    """For each rule, whether ``promtool check rules`` accepts it (one rule file per rule,
    one promtool run for them all)."""
    files = []
    for index, rule in enumerate(rules):
        path = folder / f"rule{index}.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [dict(rule)]}]}))
        files.append(path)
    result = subprocess.run(
        ["promtool", "check", "rules", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    failed = {line.split(":", 1)[0] for line in result.stderr.splitlines() if ": " in line}
    return [str(path) not in failed for path in files]
