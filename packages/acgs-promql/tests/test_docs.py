"""Every PromQL check has one page: name, what it catches, an example, how to silence it."""

from __future__ import annotations

import pytest

from acgs_promql.checks.base import Check
from acgs_promql.checks.registry import CHECKS
from acgs_testkit.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "packages" / "acgs-promql"


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_doc_page(check: Check) -> None:
    page = (PACKAGE / check.doc_page).read_text()
    assert page.startswith(f"# {check.name}\n")
    for section in ("## What it catches", "## Example", "## How to silence it"):
        assert section in page
    assert "Runs in:" in page


def test_no_orphan_pages() -> None:
    pages = {p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "docs/checks").glob("*.md")}
    assert pages == {check.doc_page for check in CHECKS}
