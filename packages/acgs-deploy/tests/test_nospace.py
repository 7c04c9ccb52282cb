"""A full disk or quota: the error names the path, the space free there and, when known, the
space needed; never a bare ``[Errno 28]``. The full file system is real: a 1 MiB tmpfs
(mounting one needs root; skipped otherwise), filled by writing until the kernel refuses."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from acgs_deploy import commands, configstore
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.errors import NoSpace, writing
from acgs_deploy.exitcodes import describe, exit_code
from acgs_testkit.ports import free_stack_settings


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    tmpfs = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]
    done = subprocess.run(tmpfs, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _write_forever(descriptor: int) -> None:
    while True:
        os.write(descriptor, b"\0" * 4096)


def _fill(directory: Path) -> None:
    """Write into `directory` until its file system is full."""
    descriptor = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError, match="No space left on device"):
            _write_forever(descriptor)
    finally:
        os.close(descriptor)


def test_a_deploy_on_a_full_disk_names_the_path_and_the_space(
    small_disk: Path, rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = free_stack_settings(small_disk / "state", rules_dir=rules_dir, min_free_disk_mb=0)
    LocalBackend(settings).configure()  # a configuration in place, as after a deploy
    live = configstore.live_version(settings.layout)
    _fill(small_disk)
    (rules_dir / "more.yml").write_text((rules_dir / "test.yml").read_text().replace("test", "m"))

    code = commands.deploy(settings=settings, demo=False, console=Console(record=True))

    assert code == 1
    err = " ".join(capsys.readouterr().err.split())
    needed = configstore.size(settings.layout.config_dir) / 2**20
    assert err.startswith(
        f"deploy: error: no space left on device writing {settings.layout.config_versions_dir} ("
    )
    assert f"MiB free there, about {needed:.1f} MiB needed): free some space" in err
    assert "Errno" not in err
    assert "Traceback" not in err
    # Nothing half-written is left, and the configuration in use is the one before.
    assert configstore.live_version(settings.layout) == live
    assert not list(settings.layout.config_versions_dir.glob(".staging-*"))


def test_an_error_without_a_path_gets_the_one_given_to_writing(tmp_path: Path) -> None:
    with pytest.raises(NoSpace) as caught, writing(tmp_path / "out", needed=3 << 20):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    assert exit_code(caught.value) == 1
    message = describe(caught.value)
    assert message.startswith(f"disk quota exceeded writing {tmp_path / 'out'} (")
    assert "MiB free there, about 3.0 MiB needed)" in message
    # Other errors pass through as they are.
    with pytest.raises(PermissionError), writing(tmp_path):
        raise PermissionError(errno.EACCES, "Permission denied")


def test_an_out_of_space_error_from_elsewhere_still_says_what_to_do() -> None:
    message = describe(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert (
        message
        == "no space left on device: free some space (or raise the quota), then run this again"
    )
