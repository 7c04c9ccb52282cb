"""Every check has its doc page: name, what it catches, an example, how to silence it.

Rule-level pages live in this package's ``docs/checks/``; the PromQL checks' pages in
acgs-promql's, shared with the dashboard linter.
"""

from __future__ import annotations

import pytest

from acgs_rules.checks.registry import CHECKS, OTHER_CHECK_NAMES
from acgs_testkit.paths import REPO_ROOT

DOCS = REPO_ROOT / "packages" / "acgs-rules" / "docs" / "checks"
PAGES = {check.name: check.doc_page for check in CHECKS} | {
    name: f"packages/acgs-rules/docs/checks/{name.replace('/', '-')}.md"
    for name in OTHER_CHECK_NAMES
}


@pytest.mark.parametrize(("name", "page"), sorted(PAGES.items()))
def test_doc_page(name: str, page: str) -> None:
    text = (REPO_ROOT / page).read_text()
    assert text.startswith(f"# {name}\n")
    for section in ("## What it catches", "## Example", "## How to silence it"):
        assert section in text


def test_promql_checks_link_to_the_shared_pages() -> None:
    assert PAGES["promql/counter"] == "packages/acgs-promql/docs/checks/promql-counter.md"
    assert PAGES["alert/for"] == "packages/acgs-rules/docs/checks/alert-for.md"


def test_no_orphan_pages() -> None:
    names = {p.stem for p in DOCS.glob("*.md")}
    ours = {name for name, page in PAGES.items() if page.startswith("packages/acgs-rules/")}
    assert names == {n.replace("/", "-") for n in ours}
