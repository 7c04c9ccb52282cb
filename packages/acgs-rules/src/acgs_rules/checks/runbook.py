"""alert/runbook: a ``runbook_url`` into this repository must point at a file that exists,
and at a heading in it when the URL has a ``#fragment``.

Resolved forms: ``<runbook_base_url>path/in/repo.md#heading`` (relative to ``repo_root``)
and relative paths (relative to the rule file). Other URLs are not fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from acgs_promql.findings import Finding
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match and not in_code:
            slug = github_slug(match.group(1))
            n = counts.get(slug, 0)
            counts[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def resolve(ctx: LintContext, url: str, rule_path: str) -> Path | None:
    base = ctx.settings.runbook_base_url
    if base and url.startswith(base):
        return ctx.repo_root / url[len(base) :]
    if "://" in url or url.startswith("mailto:"):
        return None
    return Path(rule_path).parent / url


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.alerts():
        url = rule.annotations.get("runbook_url", "").strip()
        if not url or "{{" in url:
            continue
        target, _, fragment = url.partition("#")
        path = resolve(ctx, target, rule.path)
        if path is None:
            continue
        line = rule.line_of("annotations")
        if not path.is_file():
            yield ctx.finding(
                rule,
                CHECK.name,
                f"runbook_url {url} points at {path}, which does not exist",
                line=line,
            )
            continue
        if fragment:
            try:
                found = anchors(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as error:
                yield ctx.finding(rule, CHECK.name, f"cannot read runbook {path}: {error}")
                continue
            if fragment.lower() not in found:
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    f"runbook {path} has no heading for #{fragment}",
                    line=line,
                )


CHECK = Check("alert/runbook", "runbook_url points at an existing file and heading", run)
