"""Diff mode (``--changed-from REF``): keep only the findings on lines changed since REF.

Like pint's CI mode: a pull request is judged on what it changes, not on the whole
repository's history. The changed lines come from real git: ``git diff -U0 REF`` (commits
since REF and uncommitted changes alike) plus untracked files, which count as changed in
full. A finding is kept when its line changed, when it names no line in a changed file,
or when it is about a rule (``anchor``) any line of which changed (its ``spans``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from acgs_promql.findings import Finding

__all__ = ["ChangedLines", "ChangesError", "changed_lines", "only_changed"]

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
Span = tuple[int, int]  # first and last line of a rule


class ChangesError(ValueError):
    """``--changed-from`` cannot be used (no git, not a repository, unknown ref)."""


@dataclass(frozen=True)
class ChangedLines:
    ref: str
    files: Mapping[Path, frozenset[int] | None]  # resolved path -> lines (None: all of it)

    def changed(self, path: Path, first: int, last: int | None = None) -> bool:
        lines = self.files.get(path.resolve(), frozenset())
        if lines is None:
            return True
        return any(line in lines for line in range(first, (last or first) + 1))

    def touched(self, path: Path) -> bool:
        return path.resolve() in self.files


def _git(args: Sequence[str], cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise ChangesError(f"--changed-from needs git: {error}") from None
    if done.returncode != 0:
        raise ChangesError(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git failed"
        )
    return done.stdout


def _unquote(name: str) -> str:
    """A path from a diff header (C-quoted by git when it holds unusual characters)."""
    if name.startswith('"') and name.endswith('"'):
        raw = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        return raw.encode("latin-1").decode("utf-8", "replace")
    return name


def changed_lines(ref: str, where: Path | None = None) -> ChangedLines:
    """The lines changed since ``ref`` in the git repository holding ``where``."""
    cwd = (where or Path.cwd()).resolve()
    while not cwd.is_dir():  # a file, or a path that does not exist (a finding later)
        cwd = cwd.parent
    try:
        root = Path(_git(["rev-parse", "--show-toplevel"], cwd).strip())
    except ChangesError as error:
        raise ChangesError(f"--changed-from: {cwd} is not in a git repository ({error})") from None
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    except ChangesError:
        raise ChangesError(f"--changed-from {ref!r}: not a commit in {root}") from None
    files: dict[Path, frozenset[int] | None] = {}
    current: Path | None = None
    lines: set[int] = set()
    for line in _git(["diff", "--no-ext-diff", "--no-color", "-U0", ref, "--"], root).splitlines():
        if line.startswith("+++ "):
            if current is not None:
                files[current] = frozenset(lines)
            name = _unquote(line[4:].rstrip("\t"))
            current = None if name == "/dev/null" else (root / name.removeprefix("b/")).resolve()
            lines = set()
        elif current is not None and (hunk := _HUNK.match(line)):
            start, count = int(hunk.group(1)), int(hunk.group(2) or "1")
            # A pure deletion (count 0) changes the place where the lines were.
            lines.update(range(max(start, 1), max(start, 1) + max(count, 1)))
    if current is not None:
        files[current] = frozenset(lines)
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], root)
    for name in filter(None, untracked.split("\0")):
        files[(root / name).resolve()] = None
    return ChangedLines(ref, files)


def only_changed(
    findings: Sequence[Finding],
    changes: ChangedLines,
    spans: Mapping[tuple[str, int], Span] | None = None,
) -> list[Finding]:
    """The findings on what changed since the ref (see the module's docstring)."""
    kept = []
    for finding in findings:
        if not finding.path:  # an internal error belongs to no file: always shown
            kept.append(finding)
            continue
        path = Path(finding.path)
        span = (spans or {}).get((finding.path, finding.anchor))
        if (
            (finding.line == 0 and changes.touched(path))
            or (finding.line > 0 and changes.changed(path, finding.line))
            or (span is not None and changes.changed(path, *span))
        ):
            kept.append(finding)
    return kept
