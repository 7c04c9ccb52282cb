"""The backup key: from `--key-file` or from BACKUP_ENCRYPTION_KEY in monitoring.env.

A key file may hold the key alone, or the key as monitoring.env has it, copied as it stands:
``BACKUP_ENCRYPTION_KEY='...'``, with or without quotes or a leading ``export`` (a whole copy
of monitoring.env works too). Blank lines and ``#`` comments are skipped. What is read is never
printed: messages name the file, not its content.
"""

from __future__ import annotations

from pathlib import Path

from acgs_deploy.backup.archive import ArchiveError, Passphrase
from acgs_deploy.secrets import Secrets, env_assignment, unquote
from acgs_deploy.settings import StackSettings

__all__ = ["KEY_NAME", "load_passphrase", "read_key_file"]

KEY_NAME = "BACKUP_ENCRYPTION_KEY"
_HOLDS = f"it holds the key alone, or its {KEY_NAME}='...' line from monitoring.env"


def read_key_file(path: Path) -> str:
    """The key in `path`: its BACKUP_ENCRYPTION_KEY= line, else its first line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ArchiveError(f"{path}: cannot read the key file: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ArchiveError(f"{path}: the key file is not text; {_HOLDS}") from None
    lines = [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]
    if not lines:
        raise ArchiveError(f"{path}: the key file is empty; {_HOLDS}")
    assignments = dict(a for line in lines if (a := env_assignment(line)))
    if KEY_NAME in assignments:
        if not assignments[KEY_NAME]:
            raise ArchiveError(f"{path}: {KEY_NAME} is empty there")
        return assignments[KEY_NAME]
    first = env_assignment(lines[0])
    if first is not None:
        raise ArchiveError(f"{path}: has {first[0]}= but no {KEY_NAME}= line; {_HOLDS}")
    return unquote(lines[0])


def load_passphrase(settings: StackSettings, key_file: Path | None) -> Passphrase:
    """The key from `key_file`, or BACKUP_ENCRYPTION_KEY in this state directory's
    monitoring.env (which a new machine does not have yet: then `--key-file` is needed)."""
    if key_file is not None:
        return Passphrase(read_key_file(key_file), source=f"the key in {key_file}")
    env = settings.layout.env_file
    if not env.is_file():
        raise ArchiveError(
            f"no key: {env} does not exist (a new machine?); give --key-file FILE, a file "
            f"holding the saved key or its {KEY_NAME}='...' line"
        )
    return Passphrase(
        Secrets.load(settings.state_dir).backup_encryption_key, source=f"{KEY_NAME} in {env}"
    )
