"""The template checker agrees with the real promtool on what is a template error."""

from __future__ import annotations

from pathlib import Path

from acgs_rules.templates import check_template, label_references
from acgs_testkit.promtool import rules_accepted

TEMPLATES = [
    "plain text",
    "{{ $labels.job }}",
    "{{ $value | humanize }}",
    "{{ $value | humanizePercentage }} of {{ $labels.instance }}",
    "{{ $value | humanise }}",
    "{{ $lables.job }}",
    "{{ $labels.job }",
    "{{ if gt $value 1.0 }}high{{ else }}low{{ end }}",
    "{{ if gt $value 1.0 }}high",
    "{{ end }}",
    "{{ else }}",
    '{{ range $i, $s := query "up" }}{{ $s.Labels.job }}{{ end }}',
    '{{ with query "up" }}{{ . | first | value | humanize }}{{ end }}',
    '{{ printf "%.2f" $value }}',
    '{{ $labels.instance | reReplaceAll ":.*" "" }}',
    "{{/* a comment */}}text",
    "{{- $labels.job -}}",
    "{{ .Labels.job }} {{ .Value }}",
    "{{ $externalLabels.cluster }} {{ $externalURL }}",
    "{{ $x := 1 }}{{ $x }}",
    "{{ $y }}",
    "{{ toUpper (title $labels.job) }}",
    "{{ toUpper (title $labels.job }}",
    '{{ index $labels "job" }}',
    "{{ humanizeDuration $value }}",
    "{{ nosuchfunc $value }}",
    "{{ }}",
]


def promtool_accepts(templates: list[str], folder: Path) -> list[bool]:
    """Which annotation templates ``promtool check rules`` accepts."""
    rules = [{"alert": "A", "expr": "up == 0", "annotations": {"summary": t}} for t in templates]
    return rules_accepted(rules, folder)


def test_template_checker_agrees_with_promtool(tmp_path: Path) -> None:
    theirs = promtool_accepts(TEMPLATES, tmp_path)
    disagreements = [
        (text, "promtool accepts" if ok else "promtool rejects", check_template(text))
        for text, ok in zip(TEMPLATES, theirs, strict=True)
        if (not check_template(text)) != ok
    ]
    assert not disagreements
    assert any(theirs)
    assert not all(theirs)


def test_label_references() -> None:
    text = '{{ $labels.job }} {{ .Labels.instance }} {{ index $labels "service" }} {{ $value }}'
    assert label_references(text) == {"job", "instance", "service"}
