"""The backup key from --key-file: the key alone or the monitoring.env line as it stands; a
malformed key is told apart from a wrong one, and neither message shows the key."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pytest

from acgs_deploy.backup.archive import (
    ArchiveError,
    ArchiveReader,
    ArchiveWriter,
    Passphrase,
    ScryptParams,
    WrongKeyError,
)
from acgs_deploy.backup.keyfile import load_passphrase, read_key_file
from acgs_deploy.secrets import Secrets, backup_key_problem
from acgs_deploy.settings import StackSettings

KEY = secrets.token_urlsafe(32)  # as `invoke deploy` makes it


# The key goes in inside the test: parameters holding a key made at import differ between
# pytest-xdist's workers (each imports the module), which then refuse to run at all.
@pytest.mark.parametrize(
    "form",
    [
        "{key}\n",
        "  {key}  \r\n",
        "BACKUP_ENCRYPTION_KEY='{key}'\n",
        'BACKUP_ENCRYPTION_KEY="{key}"',
        "BACKUP_ENCRYPTION_KEY={key}\n",
        "export BACKUP_ENCRYPTION_KEY='{key}'\n",
        "# saved from monitoring.env\n\nBACKUP_ENCRYPTION_KEY = '{key}'\n",
        "'{key}'\n",
    ],
)
def test_key_file_forms(tmp_path: Path, form: str) -> None:
    path = tmp_path / "key"
    path.write_text(form.format(key=KEY))
    assert read_key_file(path) == KEY


def test_a_whole_monitoring_env_is_a_key_file(tmp_path: Path) -> None:
    Secrets.ensure(tmp_path)
    copy = tmp_path / "copy.env"
    copy.write_bytes((tmp_path / "monitoring.env").read_bytes())
    assert read_key_file(copy) == Secrets.load(tmp_path).backup_encryption_key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\n# only a comment\n", "the key file is empty"),
        ("BACKUP_ENCRYPTION_KEY=''\n", "BACKUP_ENCRYPTION_KEY is empty there"),
        ("PROMETHEUS_PASSWORD='x'\n", "has PROMETHEUS_PASSWORD= but no BACKUP_ENCRYPTION_KEY="),
    ],
)
def test_key_files_without_a_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "key"
    path.write_text(text)
    with pytest.raises(ArchiveError, match=message):
        read_key_file(path)


def test_no_monitoring_env_and_no_key_file_says_to_give_one(tmp_path: Path) -> None:
    settings = StackSettings.load(tmp_path / "new-machine")
    with pytest.raises(ArchiveError, match=r"monitoring.env does not exist .*give --key-file"):
        load_passphrase(settings, None)


def test_shape_of_generated_keys() -> None:
    assert backup_key_problem(KEY) is None
    assert backup_key_problem(KEY[:-2]) == (
        "it is 41 characters long; keys made by `invoke deploy` are 43 characters of "
        "A-Z a-z 0-9 - _"
    )
    problem = backup_key_problem(f"'{KEY[:-2]}'")
    assert problem is not None
    assert "2 of its characters are not A-Z a-z 0-9 - _" in problem


def _open(archive: bytes, key: str, source: str) -> str:
    with pytest.raises(WrongKeyError) as error:
        ArchiveReader(io.BytesIO(archive), Passphrase(key, source=source), name="b.acgsbak")
    return str(error.value)


def test_malformed_key_told_apart_from_a_wrong_one(tmp_path: Path) -> None:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink, Passphrase(KEY), params=ScryptParams(n=1 << 12))
    writer.write(b"data")
    writer.close()
    archive = sink.getvalue()
    assert ArchiveReader(io.BytesIO(archive), Passphrase(KEY)).read() == b"data"

    wrong = _open(archive, secrets.token_urlsafe(32), "the key in k1")
    assert wrong.startswith("b.acgsbak: the key in k1 does not open this backup: a wrong key")
    assert "malformed" not in wrong

    cut = _open(archive, KEY[:30], "the key in k2")
    assert "the key in k2 does not open this backup and is malformed: it is 30 characters" in cut
    assert "a wrong key" not in cut

    # The monitoring.env line mangled on the way (a quote lost): malformed, not wrong.
    line = _open(archive, f"BACKUP_ENCRYPTION_KEY='{KEY}", "the key in k3")
    assert "is malformed" in line
    for message in (wrong, cut, line):
        assert KEY[:8] not in message
