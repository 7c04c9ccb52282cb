"""What the last deploy of a state directory asked for (``<state>/deploy.json``): the demo mode,
so that a later deploy, reload or restore without the flag keeps it, and the settings it ran
with (secrets left out), so that a component that fails on new settings can be put back on the
command line and address it had. Also whether it ran the demo infrastructure and which of its
parts it left out (and why), for status and health."""

from __future__ import annotations

import json
from typing import Any

from acgs_deploy.settings import SECRET_FIELDS, StackSettings

__all__ = [
    "MODE_FILE",
    "infra_wanted",
    "last_demo",
    "last_settings",
    "last_topology",
    "left_out",
    "remember",
]

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


def infra_wanted(settings: StackSettings, flag: bool | None = None, *, deploying: bool) -> bool:
    """Whether the demo infrastructure is part of this stack. A deploy: `flag` (``--infra``,
    ``--no-infra``) when given, else the `infra` key when set (stack file, ACGS_INFRA), else as
    the last deploy. Anything else (status, health, down, reload, restore): as the last deploy
    did, so that they describe what runs."""
    if flag is not None:
        return flag
    if deploying and "infra" in settings.model_fields_set:
        return settings.infra
    remembered = _read(settings).get("infra")
    return settings.infra if remembered is None else bool(remembered)


def left_out(settings: StackSettings) -> dict[str, str]:
    """The optional parts the last deploy could not run, each with the line saying why."""
    found = _read(settings).get("left_out")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


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


def remember(
    settings: StackSettings,
    *,
    target: str,
    demo: bool,
    infra: bool | None = None,
    skipped: dict[str, str] | None = None,
) -> None:
    # Defaults left out: a topology-only key (prometheus_replicas ...) given back explicitly
    # would be refused with topology single, and the settings could not be read back.
    shown = settings.model_dump(mode="json", exclude=set(SECRET_FIELDS), exclude_defaults=True)
    record = {
        "target": target,
        "demo": demo,
        "infra": settings.infra if infra is None else infra,
        "left_out": skipped or {},
        "settings": shown,
    }
    (settings.state_dir / MODE_FILE).write_text(json.dumps(record))
