"""The size limit both linters share: sizes as people write them, the refusal message."""

from __future__ import annotations

from pathlib import Path

import pytest

from acgs_promql.limits import format_size, parse_size, too_large


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1048576),
        ("5MiB", 5 * 1024**2),
        ("800KB", 800_000),
        ("1.5 gib", 3 * 1024**3 // 2),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "5 MiBs", "-1", "0", "lots"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_the_refusal_names_size_limit_and_option(tmp_path: Path) -> None:
    path = tmp_path / "f.yml"
    path.write_bytes(b"x" * 3000)
    assert too_large(path, 3000, "--max-file-size") is None
    message = too_large(path, 2048, "--max-file-size")
    assert message is not None
    assert message.startswith("file is 2.9 KiB (3000 bytes), over the 2 KiB limit")
    assert "--max-file-size" in message
    assert format_size(5 * 1024**2) == "5 MiB"
    assert too_large(tmp_path / "missing.yml", 1, "--x") is None  # reading reports it
