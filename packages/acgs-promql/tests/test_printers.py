"""Text output shows every field verbatim: user text is never read as rich markup or emoji."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from acgs_promql.findings import Finding, Severity
from acgs_promql.printers import print_text

# Rich drops control characters from printed text; everything else must survive.
# Pieces of markup and emoji codes are mixed in so the interesting cases come up often.
_PIECES = st.sampled_from(["[", "]", "[/", "[/x]", "[bold]", ":", ":100:", ":smile:", "\\", "+"])
_TEXT = st.lists(
    st.one_of(_PIECES, st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=8)),
    max_size=10,
).map("".join)


def _printed(findings: list[Finding], what: str = "1 rule file(s)") -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=False)
    print_text(findings, what, console)
    return out.getvalue()


def test_markup_and_emoji_lookalikes_print_verbatim() -> None:
    finding = Finding(
        "rules/[x]/file.yml",
        100,
        "promql/range-window",
        Severity.ERROR,
        'code=~"[a-z]+" closes [/x] and [bold]not bold[/bold]',
        "Rule[/x]",
    )
    text = _printed([finding], "read [/y] :100:")
    assert 'code=~"[a-z]+" closes [/x] and [bold]not bold[/bold]' in text
    assert "rules/[x]/file.yml:100: error [promql/range-window] Rule[/x]:" in text
    assert "read [/y] :100:" in text
    assert "💯" not in text


def test_emoji_code_in_path_stays_text() -> None:
    finding = Finding("file.yml", 0, "rule/schema", Severity.WARNING, "see :100: and :smile:")
    text = _printed([finding])
    assert "file.yml: warning [rule/schema] see :100: and :smile:" in text


@settings(max_examples=200, deadline=None)
@given(path=_TEXT, rule=_TEXT, message=_TEXT, line=st.integers(min_value=0, max_value=10**6))
def test_any_text_prints_verbatim(path: str, rule: str, message: str, line: int) -> None:
    finding = Finding(path, line, "alert/comparison", Severity.ERROR, message, rule)
    text = _printed([finding])
    location = f"{path}:{line}" if line else path
    expected = f"{location}: error [alert/comparison]" + (f" {rule}:" if rule else "")
    assert f"{expected} {message}" in text
