"""Every check has its doc page: name, what it catches, an example, how to silence it."""

from __future__ import annotations

from pathlib import Path

import pytest

from acgs_rules.checks import ALL_CHECK_NAMES

DOCS = Path(__file__).resolve().parents[1] / "docs" / "checks"


@pytest.mark.parametrize("name", ALL_CHECK_NAMES)
def test_doc_page(name: str) -> None:
    page = (DOCS / f"{name.replace('/', '-')}.md").read_text()
    assert page.startswith(f"# {name}\n")
    for section in ("## What it catches", "## Example", "## How to silence it"):
        assert section in page


def test_no_orphan_pages() -> None:
    names = {p.stem for p in DOCS.glob("*.md")}
    assert names == {n.replace("/", "-") for n in ALL_CHECK_NAMES}
