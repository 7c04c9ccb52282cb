"""The AlertmanagerConfig: ``configs/alertmanager.yml.j2`` rendered as for the other targets,
then translated field by field into the operator's schema.

The template stays the one source of routes, inhibitions and receivers. Receiver settings
that are secret (SMTP password, Slack webhook URL, PagerDuty key) are rendered as references
to keys of the Secret `RECEIVER_SECRET`, which the user creates; their values never reach the
output. A template field this module cannot translate is a RenderError naming it, so a change
to the template cannot be dropped silently.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import yaml

from acgs_deploy.k8s import NAME, RECEIVER_SECRET, labels, receiver_key
from acgs_deploy.render import RenderError, receivers_context, render_template
from acgs_deploy.settings import SECRET_FIELDS, StackSettings

__all__ = ["TEMPLATE", "alertmanager_config"]

TEMPLATE = "alertmanager.yml.j2"
# Stands for a secret setting in the rendered template; becomes a Secret key reference.
_SECRET_MARK = "\x00secret:"  # noqa: S105 (a marker, not a value)
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"(.*)"\s*$')
_ROUTE_FIELDS = {
    "receiver": "receiver",
    "group_by": "groupBy",
    "group_wait": "groupWait",
    "group_interval": "groupInterval",
    "repeat_interval": "repeatInterval",
    "continue": "continue",
}
_RECEIVER_KINDS = {
    "email_configs": "emailConfigs",
    "slack_configs": "slackConfigs",
    "pagerduty_configs": "pagerdutyConfigs",
}
_RECEIVER_FIELDS = {
    "to": "to",
    "send_resolved": "sendResolved",
    "api_url": "apiURL",
    "channel": "channel",
    "title": "title",
    "text": "text",
    "routing_key": "routingKey",
}
# Alertmanager's global SMTP settings, which the operator sets on each email receiver.
_SMTP_FIELDS = {
    "smtp_smarthost": "smarthost",
    "smtp_from": "from",
    "smtp_auth_username": "authUsername",
    "smtp_auth_password": "authPassword",
    "smtp_require_tls": "requireTLS",
}


def _value(settings: StackSettings, setting: str) -> str | None:
    value = getattr(settings, setting)
    if value is None:
        return None
    return f"{_SECRET_MARK}{setting}" if setting in SECRET_FIELDS else str(value)


def rendered_template(settings: StackSettings) -> dict[str, Any]:
    """configs/alertmanager.yml.j2 with the settings' receivers (secret ones as marks)."""
    text = render_template(
        TEMPLATE,
        receivers=receivers_context(lambda setting: _value(settings, setting)),
        topology=SimpleNamespace(webhook_url=None),  # the demo receiver is local only
    )
    config = yaml.safe_load(text)
    if not isinstance(config, dict):
        raise RenderError(f"configs/{TEMPLATE}: did not render a mapping")
    return config


def alertmanager_config(settings: StackSettings, ns: str) -> tuple[dict[str, Any], str]:
    """The AlertmanagerConfig object, and the template's ``global.resolve_timeout`` (set on
    the Alertmanager resource: an AlertmanagerConfig has no global section)."""
    config = rendered_template(settings)
    smtp = {
        _SMTP_FIELDS[key]: _translate_value(value)
        for key, value in (config.get("global") or {}).items()
        if key in _SMTP_FIELDS
    }
    unknown = set(config.get("global") or {}) - set(_SMTP_FIELDS) - {"resolve_timeout"}
    unknown |= set(config) - {"global", "route", "inhibit_rules", "receivers"}
    if unknown:
        _untranslatable(", ".join(sorted(unknown)))
    spec = {
        "route": _route(config["route"]),
        "inhibitRules": [_inhibit_rule(rule) for rule in config.get("inhibit_rules") or []],
        "receivers": [_receiver(receiver, smtp) for receiver in config.get("receivers") or []],
    }
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": NAME, "namespace": ns, "labels": labels("alertmanager")},
        "spec": spec,
    }
    return manifest, str((config.get("global") or {}).get("resolve_timeout", "5m"))


def _untranslatable(what: str) -> None:
    raise RenderError(
        f"configs/{TEMPLATE}: {what} has no translation to an AlertmanagerConfig in "
        "acgs_deploy.k8s.alerting: add one there"
    )


def _translate_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_SECRET_MARK):
        return {"name": RECEIVER_SECRET, "key": receiver_key(value.removeprefix(_SECRET_MARK))}
    return value


def _matchers(texts: list[str]) -> list[dict[str, str]]:
    matchers = []
    for text in texts:
        found = _MATCHER.match(text)
        if found is None:
            _untranslatable(f"matcher {text!r}")
            continue
        name, match_type, value = found.groups()
        matchers.append({"name": name, "value": value, "matchType": match_type})
    return matchers


def _route(route: dict[str, Any]) -> dict[str, Any]:
    translated: dict[str, Any] = {}
    for key, value in route.items():
        if key == "routes":
            translated["routes"] = [_route(child) for child in value]
        elif key == "matchers":
            translated["matchers"] = _matchers(value)
        elif key in _ROUTE_FIELDS:
            translated[_ROUTE_FIELDS[key]] = value
        else:
            _untranslatable(f"route field {key!r}")
    return translated


def _inhibit_rule(rule: dict[str, Any]) -> dict[str, Any]:
    names = {"source_matchers": "sourceMatch", "target_matchers": "targetMatch"}
    translated: dict[str, Any] = {}
    for key, value in rule.items():
        if key in names:
            translated[names[key]] = _matchers(value)
        elif key == "equal":
            translated["equal"] = value
        else:
            _untranslatable(f"inhibit rule field {key!r}")
    return translated


def _receiver(receiver: dict[str, Any], smtp: dict[str, Any]) -> dict[str, Any]:
    translated: dict[str, Any] = {"name": receiver["name"]}
    for kind, configs in receiver.items():
        if kind == "name":
            continue
        if kind not in _RECEIVER_KINDS:
            _untranslatable(f"receiver kind {kind!r}")
        entries = []
        for config in configs:
            entry = dict(smtp) if kind == "email_configs" else {}
            for key, value in config.items():
                if key not in _RECEIVER_FIELDS:
                    _untranslatable(f"{kind} field {key!r}")
                entry[_RECEIVER_FIELDS[key]] = _translate_value(value)
            entries.append(entry)
        translated[_RECEIVER_KINDS[kind]] = entries
    return translated
