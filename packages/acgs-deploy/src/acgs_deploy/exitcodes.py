"""The exit codes of every command, and the one place errors become them.

0 done; 1 failed (the message says why and what to do); 2 usage (a bad flag, nothing was
done); 3 done in part: the compose target was rendered and validated but not started, or a
restore's series and sample counts differ from the backup's manifest; 4 not healthy: `status`
found a component (installed here) stopped or unhealthy.

`command` wraps each function of `acgs_deploy.commands`: an error of a type in `EXIT_CODES`
becomes one red line on stderr, ``<command>: error: <message>``, and that type's exit code.
A full disk or quota (ENOSPC, EDQUOT) is told here, naming the path (`errors.writing`), the
space free there and, when known, the space needed.
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec

import httpx
import psutil
import yaml
from rich.console import Console
from rich.text import Text

from acgs_dashboards.queryload import QueryLoadError
from acgs_deploy.backup.archive import ArchiveError
from acgs_deploy.backup.manifest import ManifestError
from acgs_deploy.backup.restore import RestoreError
from acgs_deploy.backup.snapshot import BackupError
from acgs_deploy.binaries import MissingBinaries
from acgs_deploy.client import APIError, APIUnreachable
from acgs_deploy.configstore import ConfigError
from acgs_deploy.errors import NO_SPACE, DeployError, UsageError
from acgs_deploy.render import RenderError
from acgs_deploy.secrets import SecretsError
from acgs_deploy.settings import SettingsError
from acgs_deploy.tls import TLSError

__all__ = [
    "EXIT_CODES",
    "EXIT_COUNTS_DIFFER",
    "EXIT_FAILED",
    "EXIT_NOT_STARTED",
    "EXIT_OK",
    "EXIT_UNHEALTHY",
    "EXIT_USAGE",
    "command",
    "describe",
    "exit_code",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_STARTED = 3
EXIT_COUNTS_DIFFER = 3
EXIT_UNHEALTHY = 4

# The errors a user can act on, and their exit codes. The first match wins: a UsageError is
# also a ValueError, and SettingsError is one too.
EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    (UsageError, EXIT_USAGE),
    # Ours: settings, secrets, certificates, configuration, binaries, the stack's state.
    (SettingsError, EXIT_FAILED),
    (SecretsError, EXIT_FAILED),
    (TLSError, EXIT_FAILED),
    (RenderError, EXIT_FAILED),
    (ConfigError, EXIT_FAILED),
    (MissingBinaries, EXIT_FAILED),
    (DeployError, EXIT_FAILED),
    (APIError, EXIT_FAILED),
    (QueryLoadError, EXIT_FAILED),
    (ArchiveError, EXIT_FAILED),
    (ManifestError, EXIT_FAILED),
    (BackupError, EXIT_FAILED),
    (RestoreError, EXIT_FAILED),
    # What files, processes and servers raise: not there, not allowed, stopped, full disk.
    (OSError, EXIT_FAILED),
    (httpx.HTTPError, EXIT_FAILED),
    (psutil.Error, EXIT_FAILED),
    (yaml.YAMLError, EXIT_FAILED),
    # What the stack lacks (an alert rule not loaded, no dashboards) or a value it cannot use.
    (LookupError, EXIT_FAILED),
    (ValueError, EXIT_FAILED),
)
STACK_DOWN_HINT = "is the stack running? (invoke status, invoke deploy)"

P = ParamSpec("P")


def exit_code(error: BaseException) -> int | None:
    """The exit code of a user-facing error; None for anything else (a bug)."""
    return next((code for kind, code in EXIT_CODES if isinstance(error, kind)), None)


def describe(error: BaseException) -> str:
    """The message for the user, with a hint when the stack is likely not running."""
    if isinstance(error, OSError) and error.errno in NO_SPACE:
        return _no_space(error)
    text = str(error) or type(error).__name__
    unreachable = isinstance(error, APIUnreachable | httpx.ConnectError | ConnectionError)
    if unreachable or "did not answer" in text:
        return f"{text}: {STACK_DOWN_HINT}"
    return text


def _no_space(error: OSError) -> str:
    """A full disk or quota: where, how much is free there and, when known, needed."""
    what = "disk quota exceeded" if error.errno == errno.EDQUOT else "no space left on device"
    if not error.filename:
        return f"{what}: free some space (or raise the quota), then run this again"
    path = Path(error.filename)
    existing = next((p for p in (path, *path.parents) if p.exists()), path)
    free_mib = shutil.disk_usage(existing).free / 2**20
    needed = getattr(error, "needed", None)
    wanted = f", about {needed / 2**20:.1f} MiB needed" if needed else ""
    return (
        f"{what} writing {path} ({free_mib:.1f} MiB free there{wanted}): free some space on "
        "that file system (or raise the quota), or move the state directory (--state-dir), "
        "then run this again"
    )


def command(function: Callable[P, int]) -> Callable[P, int]:
    """Run `function`; a user-facing error is printed as one red line and gives its exit code.

    The line starts with the command's name (the function's, with dashes): ``perf: error:``.
    """
    name = function.__name__.replace("_", "-")
    handled = tuple(kind for kind, _ in EXIT_CODES)

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return function(*args, **kwargs)
        except handled as error:
            code = exit_code(error)
            assert code is not None  # `handled` holds exactly the table's types
            line = Text.assemble((f"{name}: error:", "red"), " ", describe(error))
            Console(stderr=True, soft_wrap=True, highlight=False).print(line)
            return code

    return run
