"""Installing binaries: failures are MissingBinaries with what to do, never a traceback."""

from __future__ import annotations

import os

import pytest

from acgs_deploy import binaries

ABSENT = binaries.Binary("acgs-test-absent-binary", "acgs-test-no-such-package")


def test_nothing_missing_runs_nothing() -> None:
    present = [b for b in binaries.BINARIES if b.name == "promtool"]
    binaries.ensure_binaries(present)


def test_a_package_apt_cannot_find_is_a_clear_error() -> None:
    # As root this runs the real apt-get, which fails on the unknown package; otherwise the
    # message says which command to run as root.
    with pytest.raises(binaries.MissingBinaries) as caught:
        binaries.ensure_binaries([ABSENT], quiet=True)
    message = str(caught.value)
    assert "apt-get install -y --no-install-recommends acgs-test-no-such-package" in message
    if os.geteuid() == 0:
        assert "failed with exit code 100" in message
        assert "\n    E: " in message  # apt-get's own reason (unknown package, or a lock)
    else:
        assert "sudo apt-get update" in message
