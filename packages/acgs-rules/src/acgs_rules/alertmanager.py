"""Enough of Alertmanager's configuration to tell where an alert goes.

:func:`load_alertmanager_config` reads the route tree, receivers and inhibit rules;
:meth:`AlertmanagerConfig.destinations` walks the tree for an alert whose labels are partly
unknown (a label the expression carries has no fixed value), and returns every route the
alert may end at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from acgs_promql.durations import parse_duration

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*|"[^"]*")\s*(=~|!~|!=|=)\s*(.*?)\s*$')
# How a label of an alert is known: a fixed string, UNKNOWN (present, any value) or absent.
UNKNOWN = object()
LabelLookup = Callable[[str], "str | object | None"]


class AlertmanagerConfigError(ValueError):
    """The file cannot be read as an Alertmanager configuration."""


@dataclass(frozen=True)
class AMMatcher:
    name: str
    op: str
    value: str

    def evaluate(self, lookup: LabelLookup) -> bool | None:
        """True/False when decided by the alert's known labels, None when it depends."""
        value = lookup(self.name)
        if value is UNKNOWN:
            return None
        text = "" if value is None else str(value)
        if self.op in ("=", "!="):
            hit = text == self.value
        else:
            try:
                hit = re.fullmatch(self.value, text) is not None
            except re.error:
                return None
        return hit if self.op in ("=", "=~") else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


@dataclass
class Route:
    receiver: str
    matchers: list[AMMatcher]
    continue_: bool
    group_wait: float
    routes: list[Route] = field(default_factory=list)
    path: str = "route"
    line: int = 0

    def match(self, lookup: LabelLookup) -> bool | None:
        result: bool | None = True
        for matcher in self.matchers:
            outcome = matcher.evaluate(lookup)
            if outcome is False:
                return False
            if outcome is None:
                result = None
        return result

    def walk(self) -> Iterator[Route]:
        yield self
        for child in self.routes:
            yield from child.walk()


@dataclass
class InhibitRule:
    source: list[AMMatcher]
    target: list[AMMatcher]
    index: int
    line: int


@dataclass
class AlertmanagerConfig:
    path: Path
    root: Route
    receivers: dict[str, bool]  # name -> does it notify anyone
    inhibit_rules: list[InhibitRule]

    def destinations(self, lookup: LabelLookup) -> list[tuple[Route, bool]]:
        """Every route the alert may end at, with True when it certainly does."""
        return _descend(self.root, lookup, True)


def _descend(route: Route, lookup: LabelLookup, certain: bool) -> list[tuple[Route, bool]]:
    results: list[tuple[Route, bool]] = []
    matched_for_sure = False
    for child in route.routes:
        outcome = child.match(lookup)
        if outcome is False:
            continue
        results.extend(_descend(child, lookup, certain and outcome is True))
        if outcome is True:
            matched_for_sure = True
            if not child.continue_:
                break
    if not matched_for_sure:
        # No child certainly took the alert: it may stay here (certainly, if none could).
        results.append((route, certain and not results))
    return results


def parse_matcher(text: str) -> AMMatcher:
    match = _MATCHER.match(text)
    if not match:
        raise AlertmanagerConfigError(f'bad matcher {text!r} (expected label="value")')
    name, op, value = match.groups()
    name = name.strip('"')
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = bytes(value[1:-1], "utf-8").decode("unicode_escape")
    return AMMatcher(name, op, value)


def _split_matchers(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    parts, current, quoted = [], "", False
    for ch in text:
        if ch == '"' and not current.endswith("\\"):
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def _matchers(node: dict[str, Any], keys: tuple[str, str, str]) -> list[AMMatcher]:
    new, equal, regex = keys
    result: list[AMMatcher] = []
    for entry in node.get(new) or []:
        for part in _split_matchers(str(entry)):
            result.append(parse_matcher(part))
    for name, value in (node.get(equal) or {}).items():
        result.append(AMMatcher(str(name), "=", str(value)))
    for name, value in (node.get(regex) or {}).items():
        result.append(AMMatcher(str(name), "=~", str(value)))
    return result


def _route(node: Any, parent: Route | None, path: str) -> Route:
    if not isinstance(node, dict):
        raise AlertmanagerConfigError(f"{path} must be a mapping")
    receiver = node.get("receiver") or (parent.receiver if parent else None)
    if not receiver:
        raise AlertmanagerConfigError(f"{path} has no receiver")
    wait = node.get("group_wait")
    try:
        group_wait = parse_duration(str(wait)) if wait else (parent.group_wait if parent else 30.0)
    except ValueError as error:
        raise AlertmanagerConfigError(f"{path}.group_wait: {error}") from None
    route = Route(
        receiver=str(receiver),
        matchers=_matchers(node, ("matchers", "match", "match_re")),
        continue_=bool(node.get("continue", False)),
        group_wait=group_wait,
        path=path,
    )
    for index, child in enumerate(node.get("routes") or []):
        route.routes.append(_route(child, route, f"{path}.routes[{index}]"))
    return route


def load_alertmanager_config(path: Path) -> AlertmanagerConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise AlertmanagerConfigError(f"{path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("route"), dict):
        raise AlertmanagerConfigError(f"{path}: no 'route' mapping")
    try:
        receivers: dict[str, bool] = {}
        for entry in data.get("receivers") or []:
            name = str(entry.get("name"))
            receivers[name] = any(
                key.endswith("_configs") and value for key, value in entry.items()
            )
        root = _route(data["route"], None, "route")
        inhibits = [
            InhibitRule(
                _matchers(rule, ("source_matchers", "source_match", "source_match_re")),
                _matchers(rule, ("target_matchers", "target_match", "target_match_re")),
                index,
                0,
            )
            for index, rule in enumerate(data.get("inhibit_rules") or [])
        ]
    except (AttributeError, TypeError) as error:
        raise AlertmanagerConfigError(f"{path}: unexpected structure: {error}") from None
    except AlertmanagerConfigError as error:
        raise AlertmanagerConfigError(f"{path}: {error}") from None
    for route in root.walk():
        if route.receiver not in receivers:
            raise AlertmanagerConfigError(
                f"{path}: {route.path} uses receiver {route.receiver!r}, which is not defined"
            )
    _add_lines(path, root, inhibits)
    return AlertmanagerConfig(path, root, receivers, inhibits)


def _add_lines(path: Path, root: Route, inhibits: list[InhibitRule]) -> None:
    """Best-effort line numbers: compose the YAML again and follow the same paths."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return

    def get(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
        if isinstance(mapping, yaml.MappingNode):
            for k, v in mapping.value:
                if getattr(k, "value", None) == key:
                    found: yaml.Node = v
                    return found
        return None

    def assign(route: Route, route_node: yaml.Node | None) -> None:
        if route_node is not None:
            route.line = route_node.start_mark.line + 1
        children = get(route_node, "routes")
        for index, child in enumerate(route.routes):
            child_node = (
                children.value[index]
                if isinstance(children, yaml.SequenceNode) and index < len(children.value)
                else None
            )
            assign(child, child_node)

    assign(root, get(node, "route"))
    inhibit_node = get(node, "inhibit_rules")
    if isinstance(inhibit_node, yaml.SequenceNode):
        for rule, rule_node in zip(inhibits, inhibit_node.value, strict=False):
            rule.line = rule_node.start_mark.line + 1
