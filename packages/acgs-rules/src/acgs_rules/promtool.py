"""The real ``promtool``: ``check rules`` as findings, ``test rules`` as a pass/fail result."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from acgs_promql.findings import Finding, Severity
from acgs_rules.model import Rule, RuleFile

CHECK_NAME = "promtool/check"
_RULE_REF = re.compile(r'group "(?P<group>[^"]*)", rule (?P<index>\d+)')
_LOCATED = re.compile(r"^(?P<path>.+?): (?:(?P<line>\d+):(?P<col>\d+): )?(?P<msg>.+)$")
_FIELD_LINE = re.compile(r"^line (?P<line>\d+): (?P<msg>.+)$")
_UNMARSHAL = "yaml: unmarshal errors:"


class PromtoolMissing(RuntimeError):
    """promtool is not installed; the message says how to get it."""


def promtool_binary() -> str:
    found = shutil.which("promtool")
    if found is None:
        raise PromtoolMissing(
            "promtool not found on PATH: install the 'prometheus' package "
            "(apt-get install prometheus) or run 'invoke install-deps'"
        )
    return found


def check_rules(rule_files: Iterable[RuleFile], timeout: float = 120) -> list[Finding]:
    """Run ``promtool check rules`` on each file; every complaint becomes a finding, and so
    does a file promtool does not finish within ``timeout`` seconds."""
    binary = promtool_binary()
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="acgs-rules-") as tmp:
        for rule_file in rule_files:
            target = Path(rule_file.path)
            if rule_file.kind == "manifest":
                # promtool reads plain rule files: hand it the manifest's spec.
                target = Path(tmp) / f"manifest-{len(findings)}-{target.name}"
                text = rule_file.promtool_text
                target.write_text(text or yaml.safe_dump({"groups": rule_file.raw_groups}))
            try:
                result = subprocess.run(
                    [binary, "check", "rules", str(target)],
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                message = f"promtool check rules did not finish within {timeout:g} s"
                findings.append(Finding(rule_file.path, 0, CHECK_NAME, Severity.ERROR, message))
                continue
            if result.returncode == 0:
                continue
            findings.extend(_parse(result.stderr + result.stdout, str(target), rule_file))
    return findings


def _parse(output: str, target: str, rule_file: RuleFile) -> list[Finding]:
    # promtool's line numbers are the file's own, unless a manifest had to be re-dumped.
    lines_match = rule_file.kind != "manifest" or rule_file.promtool_text is not None
    fallback_line = rule_file.groups[0].line if rule_file.groups else 0
    findings: list[Finding] = []
    extra: list[str] = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line or line.startswith(("Checking ", "FAILED", "SUCCESS")):
            continue
        match = _LOCATED.match(line)
        field_error = _FIELD_LINE.match(line)  # below "yaml: unmarshal errors:"
        if match and match.group("path") == target and match.group("msg") == _UNMARSHAL:
            continue
        if field_error is not None:
            number = int(field_error.group("line")) if lines_match else fallback_line
            findings.append(
                Finding(rule_file.path, number, CHECK_NAME, Severity.ERROR, field_error["msg"])
            )
        elif match and match.group("path") == target:
            number = int(match.group("line") or 0)
            message = match.group("msg")
            rule = _rule_named(rule_file, message)
            if not lines_match or number == 0:
                number = rule.line if rule is not None else fallback_line
            findings.append(
                Finding(
                    rule_file.path,
                    number,
                    CHECK_NAME,
                    Severity.ERROR,
                    message,
                    rule.name if rule is not None else "",
                    anchor=rule.line if rule is not None else 0,
                )
            )
        else:
            extra.append(line)
    if extra:
        severity = Severity.WARNING if extra[0].startswith("lint error") else Severity.ERROR
        findings.append(
            Finding(rule_file.path, fallback_line, CHECK_NAME, severity, " ".join(extra))
        )
    return findings


def _rule_named(rule_file: RuleFile, message: str) -> Rule | None:
    """The rule promtool means by 'group "g", rule N' (N counts from 1)."""
    match = _RULE_REF.search(message)
    if match is None:
        return None
    index = int(match.group("index")) - 1
    for group in rule_file.groups:
        if group.name == match.group("group") and 0 <= index < len(group.rules):
            return group.rules[index]
    return None


@dataclass(frozen=True)
class TestRun:
    ok: bool
    output: str


def run_unit_tests(test_files: Iterable[Path], timeout: float = 300) -> TestRun:
    """Run ``promtool test rules`` on the given unit-test files."""
    files = [str(p) for p in test_files]
    if not files:
        return TestRun(True, "no test files")
    result = subprocess.run(
        [promtool_binary(), "test", "rules", *files],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return TestRun(result.returncode == 0, result.stdout + result.stderr)
