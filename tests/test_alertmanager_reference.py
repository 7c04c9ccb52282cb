"""rules/config/alertmanager.reference.yml (what `acgs-rules lint` routes alerts through) must
match the Alertmanager config acgs-deploy renders from configs/alertmanager.yml.j2, so a change
to the real routing that is not carried over fails here instead of going unnoticed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from acgs_deploy.render import local_topology, render
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_testkit.paths import REPO_ROOT

REFERENCE = REPO_ROOT / "rules" / "config" / "alertmanager.reference.yml"
# Every receiver integration configured, as a team with a pager, Slack and mail would have.
RECEIVERS = {
    "slack_webhook_url": "https://hooks.slack.invalid/T000/B000/XXX",
    "pagerduty_routing_key": "0123456789abcdef0123456789abcdef",
    "alert_email_to": "oncall@example.org",
    "smtp_smarthost": "smtp.example.org:587",
    "smtp_from": "alerts@example.org",
}
ROUTE_KEYS = ("receiver", "matchers", "group_by", "group_wait", "group_interval", "repeat_interval")


def _routing(route: dict[str, Any]) -> dict[str, Any]:
    """A route tree without the receivers' contents: what decides where an alert goes."""
    shape = {key: route[key] for key in ROUTE_KEYS if key in route}
    shape["routes"] = [_routing(child) for child in route.get("routes", [])]
    shape["continue"] = route.get("continue", False)
    return shape


def _integrations(config: dict[str, Any]) -> dict[str, set[str]]:
    return {
        receiver["name"]: {key for key in receiver if key.endswith("_configs")}
        for receiver in config["receivers"]
    }


def _rendered(tmp_path: Path) -> dict[str, Any]:
    settings = StackSettings.load(tmp_path / "state", rules_dir=tmp_path / "no-rules")
    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir, RECEIVERS)
    out = tmp_path / "rendered"
    render(settings, secrets, local_topology(settings, demo=False), out)
    config: dict[str, Any] = yaml.safe_load((out / "alertmanager.yml").read_text())
    return config


def test_reference_routes_like_the_rendered_config(tmp_path: Path) -> None:
    rendered = _rendered(tmp_path)
    reference = yaml.safe_load(REFERENCE.read_text())
    assert _routing(reference["route"]) == _routing(rendered["route"])
    assert reference["inhibit_rules"] == rendered["inhibit_rules"]
    assert reference["route"]["group_wait"] == rendered["route"]["group_wait"] == "30s"
    assert reference["route"]["group_interval"] == rendered["route"]["group_interval"]
    # Same receivers; each notifies through integrations the real template gives it.
    ours, real = _integrations(reference), _integrations(rendered)
    assert set(ours) == set(real)
    for name, kinds in ours.items():
        assert kinds, f"reference receiver {name!r} notifies nobody"
        assert kinds <= real[name], (name, kinds, real[name])


def test_the_comparison_sees_a_changed_route(tmp_path: Path) -> None:
    rendered = _rendered(tmp_path)
    reference = yaml.safe_load(REFERENCE.read_text())
    reference["route"]["routes"][0]["group_wait"] = "10s"
    assert _routing(reference["route"]) != _routing(rendered["route"])
