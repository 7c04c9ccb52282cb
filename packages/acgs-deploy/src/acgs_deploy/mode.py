"""What the last deploy of a state directory asked for (``<state>/deploy.json``): the demo mode,
so that a later deploy, reload or restore without the flag keeps it, and the settings it ran
with (secrets left out), so that a component that fails on new settings can be put back on the
command line and address it had."""

from __future__ import annotations

import json
from typing import Any

from acgs_deploy.settings import SECRET_FIELDS, StackSettings

__all__ = ["MODE_FILE", "last_demo", "last_settings", "last_topology", "remember"]

MODE_FILE = "deploy.json"


def _read(settings: StackSettings) -> dict[str, Any]:
    try:
        data = json.loads((settings.state_dir / MODE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def last_demo(settings: StackSettings) -> bool:
    """Whether the last deploy ran the demo parts (False when there was none)."""
    return bool(_read(settings).get("demo", False))


def last_topology(settings: StackSettings) -> str | None:
    """The topology of the last deploy (``--topology`` is kept like --demo); None: none."""
    saved = _read(settings).get("settings")
    topology = saved.get("topology") if isinstance(saved, dict) else None
    return topology if topology in ("single", "ha") else None


def last_settings(settings: StackSettings) -> StackSettings | None:
    """The settings of the last deploy of this state directory; None when not known."""
    saved = _read(settings).get("settings")
    if not isinstance(saved, dict):
        return None
    try:
        return StackSettings(**{**saved, "state_dir": settings.state_dir})
    except ValueError:
        return None


def remember(settings: StackSettings, *, target: str, demo: bool) -> None:
    shown = settings.model_dump(mode="json", exclude=set(SECRET_FIELDS))
    record = {"target": target, "demo": demo, "settings": shown}
    (settings.state_dir / MODE_FILE).write_text(json.dumps(record))
