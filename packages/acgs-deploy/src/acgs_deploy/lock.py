"""One deploy, reload or down at a time per state directory (``flock`` on ``<state>/.lock``)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator

from acgs_deploy.errors import DeployError
from acgs_deploy.preflight import unwritable
from acgs_deploy.settings import StackSettings

__all__ = ["LOCK_FILE", "exclusive"]

LOCK_FILE = ".lock"


@contextlib.contextmanager
def exclusive(settings: StackSettings) -> Iterator[None]:
    """Hold the state directory's lock, or refuse at once when another command holds it."""
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        handle = (settings.state_dir / LOCK_FILE).open("a")
    except OSError as error:
        raise unwritable(settings.state_dir, error) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeployError(
                f"another deploy, reload or down is running on {settings.state_dir}: "
                "wait for it to finish, then run this again"
            ) from None
        yield
