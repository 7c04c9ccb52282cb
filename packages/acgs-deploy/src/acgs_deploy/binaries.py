"""The real server binaries the stack and the tests run, and how to install them.

They come from Debian packages (see DESIGN.md). As root, :func:`ensure_binaries` installs what
is missing with apt-get; otherwise it raises :class:`MissingBinaries` with the exact command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
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
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    output = subprocess.DEVNULL if quiet else None
    if not quiet:
        print(f"installing {names}: {' '.join(command)}", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=output)
    subprocess.run(command, check=True, env=env, stdout=output)
    still = missing(absent)
    if still:
        raise MissingBinaries(
            f"apt-get ran but these are still missing: {', '.join(b.name for b in still)}"
        )
