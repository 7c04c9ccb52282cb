"""The errors a user can act on that are not tied to one module: a bad flag, a stack that is
not (or cannot be brought) in the state a command needs, and a disk or quota that is full.
`acgs_deploy.exitcodes` maps these and every other user-facing error type to an exit code."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path

__all__ = ["NO_SPACE", "DeployError", "NoSpace", "UsageError", "writing"]

# Out of space: the file system is full, or the user's quota on it is.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class UsageError(ValueError):
    """A flag value the user must change; nothing was done (exit code 2)."""


class DeployError(RuntimeError):
    """The stack is not in the state a command needs, or could not be brought there; the
    message says what to do."""


class NoSpace(OSError):
    """Writing under `filename` failed for want of space; `needed` bytes when known."""

    def __init__(self, code: int, strerror: str, filename: Path, needed: int | None) -> None:
        super().__init__(code, strerror, str(filename))
        self.needed = needed


@contextlib.contextmanager
def writing(path: Path, needed: int | None = None) -> Iterator[None]:
    """Name `path` (and the bytes `needed`, when known) in an out-of-space error raised in the
    block; the OS names no file for a write that fails, only for an open."""
    try:
        yield
    except NoSpace:
        raise
    except OSError as error:
        if error.errno not in NO_SPACE:
            raise
        where = Path(error.filename) if error.filename else path
        raise NoSpace(error.errno, error.strerror or "", where, needed) from None
