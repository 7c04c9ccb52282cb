"""The errors a user can act on that are not tied to one module: a bad flag, and a stack that
is not (or cannot be brought) in the state a command needs. `acgs_deploy.exitcodes` maps these
and every other user-facing error type to an exit code."""

from __future__ import annotations

__all__ = ["DeployError", "UsageError"]


class UsageError(ValueError):
    """A flag value the user must change; nothing was done (exit code 2)."""


class DeployError(RuntimeError):
    """The stack is not in the state a command needs, or could not be brought there; the
    message says what to do."""
