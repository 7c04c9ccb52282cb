"""Read rule files, PrometheusRule manifests and promtool test files, with line numbers.

Every problem in the input becomes a :class:`Finding` (check ``yaml/syntax`` or
``rule/schema``) naming the file and line; nothing here raises for bad user input.

Silencing: a comment ``# acgs-rules disable=CHECK[,CHECK...]`` directly above a rule (or on
any line of it) silences those checks for that rule; ``# acgs-rules file-disable=CHECK`` anywhere
silences them for the whole file. ``all`` silences every check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from acgs_promql.durations import parse_duration
from acgs_promql.findings import Finding, Severity
from acgs_promql.limits import DEFAULT_MAX_FILE_SIZE, gc_paused, too_large
from acgs_rules.model import AlertTest, Group, Rule, RuleFile, TestFile

YAML_SUFFIXES = (".yml", ".yaml")
SETTINGS_NAMES = (
    "acgs-lint.yml",
    "acgs-lint.yaml",
    "acgs-rules.yml",
    "acgs-rules.yaml",
    ".acgs-rules.yml",
)
_DISABLE = re.compile(r"#\s*acgs-rules\s+(file-)?disable\s*=\s*([\w/,\s-]+)")
GROUP_FIELDS = {"name", "interval", "rules", "limit", "query_offset", "labels"}
RULE_FIELDS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
# libyaml when available: composing is most of the loading time.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SIZE_OPTION = "--max-file-size (or max_file_size in the settings)"
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass
class Loaded:
    rule_files: list[RuleFile] = field(default_factory=list)
    test_files: list[TestFile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # Files found in a directory walk that are not rule files, manifests or test files.
    skipped: list[str] = field(default_factory=list)


# Top-level keys of a Prometheus server config (it has `rule_files` too, like a test file).
_PROMETHEUS_CONFIG_KEYS = frozenset(
    {"global", "scrape_configs", "alerting", "remote_write", "remote_read", "storage"}
)


def _lintable(top: dict[str, yaml.Node]) -> bool:
    """A rule file (top-level ``groups``), a PrometheusRule manifest or a promtool test file."""
    if "groups" in top or "tests" in top:
        return True
    kind = getattr(top.get("kind"), "value", None)
    return kind == "PrometheusRule" or ("rule_files" in top and _foreign(top) is None)


def _keys(document: yaml.Node) -> dict[str, yaml.Node]:
    """A document's top-level string keys, without judging them (none: not a mapping)."""
    if not isinstance(document, yaml.MappingNode):
        return {}
    return {k.value: v for k, v in document.value if isinstance(k, yaml.ScalarNode)}


# A walked file that is not YAML is reported only if it looks like it meant to be rules.
_LOOKS_LIKE_RULES = re.compile(r"^(groups:|kind:\s*PrometheusRule)", re.MULTILINE)


def _foreign(top: dict[str, yaml.Node]) -> str | None:
    """What a document is when it is not a rule file, manifest or test file (else None).

    Directories hold more than rules: Kubernetes objects other than PrometheusRule
    (ConfigMaps, Kustomizations), Grafana provisioning files, Alertmanager and Prometheus
    configs.
    """
    if "groups" in top or "tests" in top:
        return None
    kind = getattr(top.get("kind"), "value", None)
    if "kind" in top and kind != "PrometheusRule":
        return f"a Kubernetes {kind} object" if isinstance(kind, str) else "a Kubernetes object"
    if "apiVersion" in top and "spec" not in top:
        return "a Grafana provisioning file"  # apiVersion: 1 with datasources, providers, ...
    if "route" in top:
        return "an Alertmanager config"
    if _PROMETHEUS_CONFIG_KEYS & top.keys():
        return "a Prometheus config"
    return None


@dataclass(frozen=True)
class InputFile:
    path: Path
    walked: bool  # found while walking a directory (not named on the command line)


def expand_paths(paths: Iterable[Path]) -> tuple[list[InputFile], list[Finding]]:
    """Files as given; directories walked for ``*.yml``/``*.yaml`` (sorted), skipping linter
    settings files. A file reached twice (named and inside a named directory) is read once."""
    files: list[InputFile] = []
    problems: list[Finding] = []
    seen: set[Path] = set()

    def add(path: Path, walked: bool) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(InputFile(path, walked))

    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES)
            for file in found:
                if file.is_file() and file.name not in SETTINGS_NAMES:
                    add(file, True)
        elif path.is_file():
            add(path, False)
        else:
            problems.append(
                Finding(str(path), 0, "yaml/syntax", Severity.ERROR, "no such file or directory")
            )
    return files, problems


def load(paths: Iterable[Path], max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> Loaded:
    """Load every rule file, manifest and test file under ``paths``; a file over
    ``max_file_size`` bytes is a ``yaml/syntax`` error and is not read."""
    files, problems = expand_paths(paths)
    loaded = Loaded(findings=problems)
    with gc_paused():
        for file in files:
            refused = too_large(file.path, max_file_size, SIZE_OPTION)
            if refused is not None:
                error = Finding(str(file.path), 0, "yaml/syntax", Severity.ERROR, refused)
                loaded.findings.append(error)
                continue
            load_file(file.path, loaded, walked=file.walked)
    return loaded


class _Reader:
    """Walks composed YAML nodes, recording schema problems as findings."""

    def __init__(self, path: str, out: list[Finding]) -> None:
        self.path = path
        self.out = out
        self.keys: dict[int, yaml.Node] = {}  # id(value node) -> its key node

    def key_of(self, value: yaml.Node) -> yaml.Node:
        return self.keys.get(id(value), value)

    def problem(self, node: yaml.Node | None, message: str, rule: str = "") -> None:
        line = node.start_mark.line + 1 if node is not None else 0
        self.out.append(Finding(self.path, line, "rule/schema", Severity.ERROR, message, rule))

    def mapping(self, node: yaml.Node, what: str, rule: str = "") -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping, got {_kind(node)}", rule)
            return None
        result: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.problem(key_node, f"{what}: keys must be strings", rule)
                continue
            if key in result:
                self.problem(key_node, f"{what}: field {key!r} appears twice", rule)
            result[key] = value_node
            self.keys[id(value_node)] = key_node
        return result

    def scalar(self, node: yaml.Node, what: str, rule: str = "") -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.problem(node, f"{what} must be a string, got {_kind(node)}", rule)
            return None
        return str(node.value)

    def string_map(self, node: yaml.Node, what: str, rule: str) -> dict[str, str]:
        fields = self.mapping(node, what, rule)
        result: dict[str, str] = {}
        for key, value in (fields or {}).items():
            text = self.scalar(value, f"{what}.{key}", rule)
            if text is not None:
                result[key] = text
        return result

    def duration(self, node: yaml.Node, what: str, rule: str = "") -> float | None:
        text = self.scalar(node, what, rule)
        if text is None:
            return None
        try:
            return parse_duration(text)
        except ValueError as error:
            self.problem(node, f"{what}: {error}", rule)
            return None


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:null":
        return "nothing (null)"
    return f"{node.value!r}"


def _disabled_ranges(text: str) -> tuple[frozenset[str], list[tuple[int, frozenset[str]]]]:
    file_wide: set[str] = set()
    per_line: list[tuple[int, frozenset[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _DISABLE.search(line)
        if not match:
            continue
        names = frozenset(n.strip() for n in match.group(2).split(",") if n.strip())
        if match.group(1):
            file_wide |= names
        else:
            per_line.append((number, names))
    return frozenset(file_wide), per_line


def _documents(
    path: Path, loaded: Loaded, walked: bool = False
) -> tuple[str, list[yaml.Node]] | None:
    """The file's text and YAML documents; None (and a ``yaml/syntax`` finding) if unreadable.
    A walked file that cannot be read and does not look like rules is skipped instead."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        if walked:
            loaded.skipped.append(name)
        else:
            loaded.findings.append(Finding(name, 0, "yaml/syntax", Severity.ERROR, str(error)))
        return None
    try:
        return text, [d for d in yaml.compose_all(text, Loader=_LOADER) if d is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(error, "problem", None) or str(error)
        message = f"invalid YAML: {problem}"
    except RecursionError:
        line, message = 0, "invalid YAML: nested too deeply"
    if walked and not _LOOKS_LIKE_RULES.search(text):
        loaded.skipped.append(name)  # a Helm template, some other tool's YAML
        return None
    loaded.findings.append(Finding(name, line, "yaml/syntax", Severity.ERROR, message))
    return None


def load_file(path: Path, loaded: Loaded, *, walked: bool = False) -> None:
    """Read one file; documents that are other configs are skipped (a warning when the file
    was named explicitly and holds nothing to lint). In a directory walk only rule files,
    PrometheusRule manifests and test files are read: the rest is listed in
    ``loaded.skipped``."""
    read = _documents(path, loaded, walked)
    if read is None:
        return
    text, documents = read
    name = str(path)
    reader = _Reader(name, loaded.findings)
    silencing = _disabled_ranges(text)
    lines = text.splitlines()
    skipped: list[str] = []
    used = 0
    for document in documents:
        if walked and not _lintable(_keys(document)):
            skipped.append("not a rule file")
            continue
        top = (
            reader.mapping(document, "the document")
            if isinstance(document, yaml.MappingNode)
            else None
        )
        if top is None:
            reader.problem(
                document,
                "expected a rule file (with 'groups'), a PrometheusRule manifest or a promtool "
                "test file (with 'tests')",
            )
            continue
        foreign = _foreign(top)
        if foreign is not None:
            skipped.append(foreign)
            continue
        used += 1
        if "tests" in top or "rule_files" in top:
            test = _read_test_file(path, top, reader)
            if test is not None:
                loaded.test_files.append(test)
            continue
        rule_file = _read_rule_document(document, top, reader, silencing, lines)
        if rule_file is not None:
            loaded.rule_files.append(rule_file)
    if skipped and not used and walked:
        loaded.skipped.append(name)
    if skipped and not used and not walked:
        loaded.findings.append(
            Finding(
                name,
                0,
                "rule/schema",
                Severity.WARNING,
                f"nothing to lint: this is {skipped[0]}, not a rule file, PrometheusRule "
                "manifest or promtool test file",
            )
        )


def _read_rule_document(
    document: yaml.Node,
    top: dict[str, yaml.Node],
    reader: _Reader,
    silencing: tuple[frozenset[str], list[tuple[int, frozenset[str]]]],
    lines: list[str],
) -> RuleFile | None:
    """A rule file's or a PrometheusRule manifest's groups; None when it has none."""
    file_disabled, line_disabled = silencing
    kind = "rules"
    groups_node = top.get("groups")
    if top.get("kind") is not None and getattr(top["kind"], "value", None) == "PrometheusRule":
        kind = "manifest"
        spec = reader.mapping(top["spec"], "spec") if "spec" in top else None
        if spec is None:
            reader.problem(document, "PrometheusRule manifest has no 'spec'")
            return None
        groups_node = spec.get("groups")
    else:
        for key, node in top.items():
            if key != "groups":
                reader.problem(
                    reader.key_of(node), f"unknown top-level field {key!r} (expected 'groups')"
                )
    if groups_node is None:
        reader.problem(document, "no 'groups' list")
        return None
    rule_file = RuleFile(reader.path, kind, disabled=file_disabled)
    if kind == "manifest":  # promtool gets the spec as a plain rule file
        rule_file.raw_groups = _plain(groups_node)
        rule_file.promtool_text = _same_lines_rule_file(lines, groups_node, rule_file)
    _read_groups(groups_node, rule_file, reader, line_disabled, lines)
    return rule_file


def _same_lines_rule_file(lines: list[str], groups: yaml.Node, rule_file: RuleFile) -> str | None:
    """A manifest's ``spec.groups`` as a rule file with every line where it is in the manifest.

    The block under ``groups:`` is copied verbatim below a ``groups:`` key on the line above
    it, blank lines before; None when that is not the same data (flow style, aliases).
    """
    first, end = groups.start_mark.line, groups.end_mark
    # The node ends where the next token starts: that line is not part of it.
    before_end = lines[end.line][: end.column] if end.line < len(lines) else "x"
    last = end.line - 1 if not before_end.strip() else end.line
    if first < 1 or not isinstance(groups, yaml.SequenceNode) or groups.flow_style:
        return None
    text = "\n" * (first - 1) + "groups:\n" + "\n".join(lines[first : last + 1]) + "\n"
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 (_LOADER is a safe loader)
        same = data == {"groups": rule_file.raw_groups}
    except (yaml.YAMLError, RecursionError):
        return None
    return text if same else None


def _plain(node: yaml.Node) -> Any:
    """The Python value of a composed node."""
    try:
        return _LOADER("").construct_document(node)
    except (yaml.YAMLError, RecursionError):
        return None


def _read_groups(
    node: yaml.Node,
    rule_file: RuleFile,
    reader: _Reader,
    line_disabled: list[tuple[int, frozenset[str]]],
    lines: list[str],
) -> None:
    if not isinstance(node, yaml.SequenceNode):
        reader.problem(node, f"'groups' must be a list, got {_kind(node)}")
        return
    for group_node in node.value:
        fields = reader.mapping(group_node, "a group")
        if fields is None:
            continue
        for key, value in fields.items():
            if key not in GROUP_FIELDS:
                reader.problem(
                    reader.key_of(value),
                    f"unknown group field {key!r} (known: {', '.join(sorted(GROUP_FIELDS))})",
                )
        name = reader.scalar(fields["name"], "group name") if "name" in fields else None
        if "name" not in fields:
            reader.problem(group_node, "group has no 'name'")
        group = Group(name or "", rule_file.path, group_node.start_mark.line + 1)
        group.fields = {k: reader.key_of(v).start_mark.line + 1 for k, v in fields.items()}
        if "interval" in fields:
            group.interval = reader.duration(fields["interval"], f"group {name!r} interval")
        rules = fields.get("rules")
        if rules is None or not isinstance(rules, yaml.SequenceNode):
            if rules is None or rules.tag != "tag:yaml.org,2002:null":
                reader.problem(rules or group_node, f"group {name!r}: 'rules' must be a list")
            rule_file.groups.append(group)
            continue
        starts = [r.start_mark.line + 1 for r in rules.value]
        for index, rule_node in enumerate(rules.value):
            end = starts[index + 1] - 1 if index + 1 < len(starts) else rule_node.end_mark.line + 1
            rule = _read_rule(rule_node, group, reader)
            if rule is not None:
                rule.disabled = _silenced_for(rule.line, end, line_disabled, lines)
                group.rules.append(rule)
        rule_file.groups.append(group)


def _silenced_for(
    start: int, end: int, line_disabled: list[tuple[int, frozenset[str]]], lines: list[str]
) -> frozenset[str]:
    # The comment block right above the rule belongs to it, and so does every line of it.
    first = start
    while first > 1 and lines[first - 2].strip().startswith("#"):
        first -= 1
    names: set[str] = set()
    for number, checks in line_disabled:
        if first <= number <= end:
            names |= checks
    return frozenset(names)


def _read_rule(node: yaml.Node, group: Group, reader: _Reader) -> Rule | None:
    fields = reader.mapping(node, f"a rule in group {group.name!r}")
    if fields is None:
        return None
    kind = "alert" if "alert" in fields else "record" if "record" in fields else None
    label = None
    if kind is not None:
        label = reader.scalar(fields[kind], f"'{kind}' name")
    shown = label or ""
    for key, value in fields.items():
        if key not in RULE_FIELDS:
            reader.problem(
                reader.key_of(value),
                f"unknown rule field {key!r} (known: {', '.join(sorted(RULE_FIELDS))})",
                shown,
            )
    if kind is None:
        reader.problem(node, "a rule needs 'alert' or 'record'")
        return None
    if "alert" in fields and "record" in fields:
        reader.problem(node, "a rule has either 'alert' or 'record', not both", shown)
        return None
    if label is None:
        return None
    if kind == "record" and not _METRIC_NAME.match(label):
        reader.problem(fields[kind], f"invalid recording rule name {label!r}", label)
    if "expr" not in fields:
        reader.problem(node, f"{kind} {label!r} has no 'expr'", label)
        return None
    expr = reader.scalar(fields["expr"], "expr", label)
    if expr is None:
        return None
    rule = Rule(
        kind=kind,
        name=label,
        expr=expr,
        line=node.start_mark.line + 1,
        expr_line=_expr_first_line(fields["expr"]),
        path=group.path,
        group=group,
        field_lines={k: reader.key_of(v).start_mark.line + 1 for k, v in fields.items()},
    )
    if kind == "record":
        for key in ("for", "keep_firing_for", "annotations"):
            if key in fields:
                reader.problem(fields[key], f"recording rules have no {key!r}", label)
    if "for" in fields:
        rule.for_text = reader.scalar(fields["for"], "for", label)
        rule.for_ = reader.duration(fields["for"], "for", label)
    if "keep_firing_for" in fields:
        rule.keep_firing_for = reader.duration(fields["keep_firing_for"], "keep_firing_for", label)
    if "labels" in fields:
        rule.labels = reader.string_map(fields["labels"], "labels", label)
        for key in rule.labels:
            if not _LABEL_NAME.match(key):
                reader.problem(fields["labels"], f"invalid label name {key!r}", label)
    if "annotations" in fields and kind == "alert":
        rule.annotations = reader.string_map(fields["annotations"], "annotations", label)
    return rule


def _expr_first_line(node: yaml.Node) -> int:
    # A block scalar (| or >) starts on the line after its indicator.
    line = int(node.start_mark.line) + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        line += 1
    return line


def _scalar(value: Any) -> str:
    """A scalar's text; not the text of a nested value (an alias bomb is 9**9 items long)."""
    return str(value) if isinstance(value, str | int | float | bool) else "<not a scalar>"


def _read_test_file(path: Path, top: dict[str, yaml.Node], reader: _Reader) -> TestFile | None:
    data = {k: _plain(v) for k, v in top.items()}
    rule_files = data.get("rule_files") or []
    if not isinstance(rule_files, list) or not all(isinstance(f, str) for f in rule_files):
        reader.problem(top.get("rule_files"), "test file: 'rule_files' must be a list of paths")
        return None
    test = TestFile(path, rule_files)
    tests = top.get("tests")
    if not isinstance(tests, yaml.SequenceNode):
        reader.problem(tests, "test file: 'tests' must be a list")
        return test
    for case in tests.value:
        fields = reader.mapping(case, "a test")
        if not fields or "alert_rule_test" not in fields:
            continue
        entries = fields["alert_rule_test"]
        if not isinstance(entries, yaml.SequenceNode):
            if entries.tag != "tag:yaml.org,2002:null":
                reader.problem(
                    entries, f"test file: 'alert_rule_test' must be a list, got {_kind(entries)}"
                )
            continue
        for entry in entries.value:
            plain = _plain(entry)
            if not isinstance(plain, dict) or not isinstance(plain.get("alertname"), str):
                reader.problem(entry, "alert_rule_test entry needs an 'alertname'")
                continue
            expected = plain.get("exp_alerts") or []
            if not isinstance(expected, list) or not all(
                isinstance(e, dict) and isinstance(e.get("exp_labels") or {}, dict)
                for e in expected
            ):
                reader.problem(
                    entry,
                    "alert_rule_test: 'exp_alerts' must be a list of "
                    "{exp_labels: {...}, exp_annotations: {...}}",
                )
                continue
            labels = [
                {_scalar(k): _scalar(v) for k, v in (e.get("exp_labels") or {}).items()}
                for e in expected
                if isinstance(e, dict)
            ]
            test.alert_tests.append(
                AlertTest(
                    plain["alertname"],
                    _scalar(plain.get("eval_time", "")),
                    bool(expected),
                    labels,
                    entry.start_mark.line + 1,
                )
            )
    return test


def all_rules(files: Iterable[RuleFile]) -> Iterator[Rule]:
    for rule_file in files:
        for group in rule_file.groups:
            yield from group.rules
