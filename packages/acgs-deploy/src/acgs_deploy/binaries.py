"""The real server binaries the stack and the tests run, and how to install them.

They come from Debian packages (see DESIGN.md). As root, :func:`ensure_binaries` installs what
is missing with apt-get; otherwise it raises :class:`MissingBinaries` with the exact command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["BINARIES", "Binary", "MissingBinaries", "ensure_binaries", "install_command", "missing"]


class Binary(NamedTuple):
    name: str
    package: str
    optional: bool = False


BINARIES: tuple[Binary, ...] = (
    Binary("prometheus", "prometheus"),
    Binary("promtool", "prometheus"),
    Binary("prometheus-alertmanager", "prometheus-alertmanager"),
    Binary("amtool", "prometheus-alertmanager"),
    Binary("prometheus-node-exporter", "prometheus-node-exporter"),
    # Validates the compose target's file without a Docker engine.
    Binary("docker-compose", "docker-compose"),
    # Topology ha: the long-term store and the query endpoint.
    Binary("victoria-metrics", "victoria-metrics"),
    Binary("haproxy", "haproxy"),
)


class MissingBinaries(RuntimeError):
    """Binaries are missing and could not be installed here."""


def missing(binaries: Iterable[Binary] = BINARIES) -> list[Binary]:
    return [b for b in binaries if shutil.which(b.name) is None]


def install_command(binaries: Iterable[Binary]) -> list[str]:
    packages = sorted({b.package for b in binaries})
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]


def ensure_binaries(binaries: Iterable[Binary] = BINARIES, *, quiet: bool = False) -> None:
    """Install missing binaries with apt-get as root; otherwise say exactly what to run."""
    absent = missing(binaries)
    if not absent:
        return
    command = install_command(absent)
    names = ", ".join(b.name for b in absent)
    if os.geteuid() != 0:
        raise MissingBinaries(
            f"missing: {names}. Install them as root:\n"
            f"  sudo apt-get update && sudo {' '.join(command)}"
        )
    if not quiet:
        print(f"installing {names}: {' '.join(command)}", flush=True)
    _apt_get(["apt-get", "update", "-qq"], quiet=quiet)
    _apt_get(command, quiet=quiet)
    still = missing(absent)
    if still:
        raise MissingBinaries(
            f"apt-get ran but these are still missing: {', '.join(b.name for b in still)}"
        )


def _apt_get(command: list[str], *, quiet: bool) -> None:
    """Run one apt-get step; a failure (offline, unknown package, lock) is MissingBinaries."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            command,
            env=env,
            stdout=subprocess.DEVNULL if quiet else None,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    except OSError as error:
        raise MissingBinaries(
            f"cannot run `{' '.join(command)}`: {error.strerror}. On a system without "
            "apt-get, install the Debian packages' equivalents by hand (see DESIGN.md)."
        ) from None
    if done.returncode != 0:
        tail = "\n    ".join(done.stderr.strip().splitlines()[-3:]) or "(no output)"
        raise MissingBinaries(
            f"`{' '.join(command)}` failed with exit code {done.returncode}:\n    {tail}\n"
            "Check the network and the APT sources (/etc/apt/sources.list*), then run again."
        )
    if not quiet and done.stderr:
        print(done.stderr, end="", file=sys.stderr, flush=True)
