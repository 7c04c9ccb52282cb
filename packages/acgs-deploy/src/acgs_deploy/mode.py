"""What the last deploy of a state directory asked for (``<state>/deploy.json``), so that a
later deploy, reload or restore without the flag keeps it: today the demo mode."""

from __future__ import annotations

import json

from acgs_deploy.settings import StackSettings

__all__ = ["MODE_FILE", "last_demo", "remember"]

MODE_FILE = "deploy.json"


def last_demo(settings: StackSettings) -> bool:
    """Whether the last deploy ran the demo parts (False when there was none)."""
    try:
        data = json.loads((settings.state_dir / MODE_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("demo", False))


def remember(settings: StackSettings, *, target: str, demo: bool) -> None:
    (settings.state_dir / MODE_FILE).write_text(json.dumps({"target": target, "demo": demo}))
