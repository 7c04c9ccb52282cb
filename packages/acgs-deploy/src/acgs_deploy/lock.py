"""One deploy, reload, restore or down at a time per state directory (``flock`` on
``<state>/.lock``). The holder writes what it is and its pid into the file, so a refusal can
name it."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from acgs_deploy.errors import DeployError
from acgs_deploy.preflight import unwritable
from acgs_deploy.settings import StackSettings

__all__ = ["LOCK_FILE", "exclusive"]

LOCK_FILE = ".lock"


@contextlib.contextmanager
def exclusive(
    settings: StackSettings, holder: str = "another deploy, reload or down"
) -> Iterator[None]:
    """Hold the state directory's lock, or refuse at once when another command holds it.

    `holder` names this command in the refusal others get ("a restore").
    """
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        # Unbuffered: a name that cannot be written (a full disk) is not left to fail at close.
        handle = (settings.state_dir / LOCK_FILE).open("a+b", buffering=0)
    except OSError as error:
        raise unwritable(settings.state_dir, error) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            held_by = handle.read().decode(errors="replace").strip()
            held_by = held_by or "another deploy, reload or down"
            raise DeployError(
                f"{held_by} is running on {settings.state_dir}: "
                "wait for it to finish, then run this again"
            ) from None
        handle.seek(0)
        handle.truncate()
        # The name only words a refusal: on a full disk the lock holds without it, and the
        # command goes on to the write that names the path.
        with contextlib.suppress(OSError):
            handle.write(f"{holder} (pid {os.getpid()})".encode())
        try:
            yield
        finally:
            handle.truncate(0)  # no stale name for the next holder's first instant
