"""What bounds the cost of reading input, for both linters: the file size limit (one bound,
one message) and pausing the cyclic GC while a file's objects are built.

The default, 5 MiB, is far above any real input (this repository's largest rule file is 9 KB,
a built dashboard 40 KB; kube-prometheus' whole rule set is about 0.5 MB) and keeps a lint
run within a few hundred MB: each linter holds its input's parsed form, 10-20 times the text.
"""

from __future__ import annotations

import argparse
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "format_size",
    "gc_paused",
    "parse_size",
    "size_argument",
    "too_large",
]

DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(|B|KB|KiB|MB|MiB|GB|GiB)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_size(text: str) -> int:
    """``"5MiB"`` -> 5242880; a plain number is bytes. Raises ValueError when unreadable."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 5MiB, 800KB, 1048576)")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise ValueError(f"{text!r}: the size must be above 0")
    return size


def size_argument(text: str) -> int:
    """:func:`parse_size` as an argparse ``type`` (both linters' ``--max-file-size``)."""
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}".replace(".0 ", " ")
    return f"{size} B"


def too_large(path: Path, limit: int, option: str) -> str | None:
    """Why ``path`` is refused (one line: its size, the limit, how to raise it), or None."""
    try:
        size = path.stat().st_size
    except OSError:
        return None  # reading it reports the problem
    if size <= limit:
        return None
    return (
        f"file is {format_size(size)} ({size} bytes), over the {format_size(limit)} limit: "
        f"not linted; raise the limit with {option} if the file is meant to be this large"
    )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Reading a file builds millions of objects (YAML nodes, JSON objects, then the model)
    and no garbage cycles; the cyclic GC would rescan them all again and again as they pile
    up: 40% of the CPU time of loading 10,000 rules or panels. Reference counting still
    frees what is dropped; the GC runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
