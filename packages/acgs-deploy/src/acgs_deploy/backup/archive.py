"""The encrypted backup container: streaming AES-256-GCM chunks under a passphrase-derived key.

File layout (format version 1), all integers big-endian:

    magic          8 bytes   b"ACGSBAK\\n"
    header length  4 bytes
    header         JSON: format version, cipher, KDF name and parameters, salt, chunk size
    header tag     16 bytes  AES-GCM tag of the empty message, nonce HEADER_NONCE,
                             associated data = magic + header length + header
    chunks         each: flags (1 byte, bit 0 = final chunk), ciphertext length (4 bytes),
                   ciphertext (plaintext + 16-byte tag)

The key is scrypt(passphrase, salt, n, r, p) with a fresh random salt per file, so every file has
its own key and a counter is a safe nonce: chunk i uses 4 zero bytes + i (8 bytes). Each chunk's
associated data is SHA-256(header bytes) + i + flags, which binds the header to every chunk and
makes reordering (index), truncation (no final chunk) and extension (bytes after the final chunk)
detectable; the header tag lets a wrong key be told apart before any chunk is read.
Memory stays bounded by one chunk whatever the size of the stream.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from acgs_deploy.secrets import backup_key_problem

MAGIC = b"ACGSBAK\n"
FORMAT_VERSION = 1
CIPHER = "AES-256-GCM"
KDF = "scrypt"
HEADER_NONCE = b"\xff" * 12
TAG_SIZE = 16
FINAL_FLAG = 0x01
DEFAULT_CHUNK_SIZE = 4 << 20
# Bounds on what a header may ask for, so a crafted file cannot make us allocate gigabytes.
MAX_CHUNK_SIZE = 64 << 20
MAX_HEADER_SIZE = 64 << 10
MAX_SCRYPT_N = 1 << 20
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 4
# scrypt needs 128 * n * r bytes; what we write (128 MiB) stays well inside this.
MAX_SCRYPT_MEMORY = 512 << 20
_FRAME = struct.Struct(">BI")
_LENGTH = struct.Struct(">I")
_INDEX = struct.Struct(">Q")


class ArchiveError(Exception):
    """A backup file cannot be opened or read; the message says why and what to do."""


class WrongKeyError(ArchiveError):
    """The key does not open the file (or the header was altered)."""


class CorruptArchiveError(ArchiveError):
    """A chunk failed authentication, or the file is truncated or extended."""


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost: n (CPU/memory, power of two), r (block size), p (parallelism).

    The default costs 128 MiB and about 0.3 s per file, once for writing and once for reading.
    """

    n: int = 1 << 17
    r: int = 8
    p: int = 1

    @property
    def memory_bytes(self) -> int:
        return 128 * self.n * self.r

    def check(self) -> None:
        """Refuse costs a crafted header could use to exhaust memory or CPU; before deriving."""
        if self.n < 2 or self.n & (self.n - 1) or self.n > MAX_SCRYPT_N:
            raise ArchiveError(f"scrypt n={self.n} must be a power of two between 2 and 2^20")
        if not 1 <= self.r <= MAX_SCRYPT_R or not 1 <= self.p <= MAX_SCRYPT_P:
            raise ArchiveError(
                f"scrypt r={self.r}, p={self.p} out of range (1 <= r <= {MAX_SCRYPT_R}, "
                f"1 <= p <= {MAX_SCRYPT_P})"
            )
        if self.memory_bytes > MAX_SCRYPT_MEMORY:
            raise ArchiveError(
                f"scrypt n={self.n}, r={self.r} needs {self.memory_bytes >> 20} MiB; at most "
                f"{MAX_SCRYPT_MEMORY >> 20} MiB (128 * n * r) is allowed"
            )


class Passphrase:
    """The backup secret. Its repr and str never show it, so it cannot leak into logs.

    `source` says where it came from ("the key in /root/backup.key"), for messages.
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str | bytes, source: str = "the key") -> None:
        raw = value.encode() if isinstance(value, str) else bytes(value)
        if not raw.strip():
            raise ArchiveError("the backup key is empty: set BACKUP_ENCRYPTION_KEY or --key-file")
        self._value = raw
        self.source = source

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Passphrase(<hidden>)"

    __str__ = __repr__


def derive_key(passphrase: Passphrase, salt: bytes, params: ScryptParams) -> bytes:
    params.check()
    kdf = Scrypt(salt=salt, length=32, n=params.n, r=params.r, p=params.p)
    return kdf.derive(passphrase.reveal())


def _chunk_nonce(index: int) -> bytes:
    return b"\0\0\0\0" + _INDEX.pack(index)


def _chunk_aad(header_digest: bytes, index: int, flags: int) -> bytes:
    return header_digest + _INDEX.pack(index) + bytes([flags])


class ArchiveWriter:
    """A write-only binary stream that encrypts into `sink` chunk by chunk.

    Call close() to write the final chunk; a writer dropped without close() leaves a file that
    readers refuse as truncated, which is what an interrupted backup should look like.
    """

    def __init__(
        self,
        sink: IO[bytes],
        passphrase: Passphrase,
        *,
        params: ScryptParams | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ArchiveError(f"chunk size {chunk_size} out of range (1 .. {MAX_CHUNK_SIZE})")
        params = params or ScryptParams()
        salt = os.urandom(16)
        header = json.dumps(
            {
                "format": FORMAT_VERSION,
                "cipher": CIPHER,
                "kdf": {"name": KDF, "n": params.n, "r": params.r, "p": params.p},
                "salt": base64.b64encode(salt).decode(),
                "chunk_size": chunk_size,
            },
            sort_keys=True,
        ).encode()
        prefix = MAGIC + _LENGTH.pack(len(header)) + header
        self._aead = AESGCM(derive_key(passphrase, salt, params))
        self._digest = hashlib.sha256(prefix).digest()
        self._sink = sink
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        self.plaintext_bytes = 0
        sink.write(prefix + self._aead.encrypt(HEADER_NONCE, b"", prefix))

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed ArchiveWriter")
        self._buffer += data
        self.plaintext_bytes += len(data)
        # Keep at least one byte back so close() always has a final chunk to mark.
        while len(self._buffer) > self._chunk_size:
            self._emit(bytes(self._buffer[: self._chunk_size]), final=False)
            del self._buffer[: self._chunk_size]
        return len(data)

    def flush(self) -> None:
        self._sink.flush()

    def close(self) -> None:
        if not self._closed:
            self._emit(bytes(self._buffer), final=True)
            self._buffer = bytearray()
            self._closed = True
            self._sink.flush()

    def _emit(self, plaintext: bytes, *, final: bool) -> None:
        flags = FINAL_FLAG if final else 0
        aad = _chunk_aad(self._digest, self._index, flags)
        ciphertext = self._aead.encrypt(_chunk_nonce(self._index), plaintext, aad)
        self._sink.write(_FRAME.pack(flags, len(ciphertext)))
        self._sink.write(ciphertext)
        self._index += 1


def _wrong_key_message(name: str, passphrase: Passphrase) -> str:
    """A key of another shape than the generated ones (cut short, quotes or `KEY=` left in) is
    told apart from a well-formed wrong one; custom keys still work, this is only the diagnosis."""
    problem = backup_key_problem(passphrase.reveal().decode(errors="replace"))
    if problem is not None:
        return (
            f"{name}: {passphrase.source} does not open this backup and is malformed: {problem}. "
            "Check it was saved whole: the key alone, or the BACKUP_ENCRYPTION_KEY= line of "
            "monitoring.env"
        )
    return (
        f"{name}: {passphrase.source} does not open this backup: a wrong key (or the header was "
        "altered); use the BACKUP_ENCRYPTION_KEY the backup was written with"
    )


def _read_exact(source: IO[bytes], size: int) -> bytes:
    data = source.read(size)
    if len(data) == size:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = source.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def read_header(source: IO[bytes], name: str = "backup") -> tuple[bytes, dict[str, Any]]:
    """Read and parse the header (not yet authenticated); returns (prefix bytes, fields)."""
    magic = _read_exact(source, len(MAGIC))
    if magic != MAGIC:
        raise ArchiveError(f"{name}: not an ACGS backup file (bad magic bytes)")
    raw_length = _read_exact(source, _LENGTH.size)
    if len(raw_length) < _LENGTH.size:
        raise CorruptArchiveError(f"{name}: the file is truncated inside its header")
    (length,) = _LENGTH.unpack(raw_length)
    if length > MAX_HEADER_SIZE:
        raise CorruptArchiveError(f"{name}: header length {length} is implausible: file damaged")
    header = _read_exact(source, length)
    if len(header) < length:
        raise CorruptArchiveError(f"{name}: the file is truncated inside its header")
    try:
        fields = json.loads(header)
        if not isinstance(fields, dict):
            raise ValueError("not an object")
    except ValueError:
        raise CorruptArchiveError(f"{name}: the header is not valid JSON: file damaged") from None
    return magic + raw_length + header, fields


class ArchiveReader:
    """A read-only binary stream that authenticates and decrypts chunk by chunk.

    Every chunk is checked before any of its bytes are returned; the end of the stream is only
    reported once the final chunk has been read and nothing follows it.
    """

    def __init__(self, source: IO[bytes], passphrase: Passphrase, *, name: str = "backup") -> None:
        self._source = source
        self._name = name
        prefix, fields = read_header(source, name)
        try:
            version = int(fields["format"])
            kdf = fields["kdf"]
            salt = base64.b64decode(fields["salt"], validate=True)
            params = ScryptParams(n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
            self.chunk_size = int(fields["chunk_size"])
            cipher, kdf_name = fields["cipher"], kdf["name"]
        except (KeyError, TypeError, ValueError):
            raise CorruptArchiveError(f"{name}: the header lacks a field: file damaged") from None
        if version != FORMAT_VERSION:
            raise ArchiveError(
                f"{name}: format version {version}; this tool reads version {FORMAT_VERSION}"
            )
        if cipher != CIPHER or kdf_name != KDF:
            raise ArchiveError(f"{name}: unsupported cipher {cipher!r} or KDF {kdf_name!r}")
        if not 1 <= self.chunk_size <= MAX_CHUNK_SIZE:
            raise CorruptArchiveError(f"{name}: chunk size {self.chunk_size} out of range")
        try:
            params.check()
        except ArchiveError as error:
            raise ArchiveError(
                f"{name}: the header asks for a key derivation this tool refuses: {error}. "
                "The file was not written by acgs-deploy or its header was altered."
            ) from None
        self.params = params
        self._aead = AESGCM(derive_key(passphrase, salt, params))
        tag = _read_exact(source, TAG_SIZE)
        if len(tag) < TAG_SIZE:
            raise CorruptArchiveError(f"{name}: the file is truncated inside its header")
        try:
            self._aead.decrypt(HEADER_NONCE, tag, prefix)
        except InvalidTag:
            raise WrongKeyError(_wrong_key_message(name, passphrase)) from None
        self._digest = hashlib.sha256(prefix).digest()
        self._offset = len(prefix) + TAG_SIZE
        self._index = 0
        self._finished = False
        self._current = memoryview(b"")
        self.ciphertext_bytes = self._offset
        self.plaintext_bytes = 0

    def _next_chunk(self) -> bool:
        if self._finished:
            return False
        at = self._offset
        frame = _read_exact(self._source, _FRAME.size)
        if len(frame) < _FRAME.size:
            raise CorruptArchiveError(
                f"{self._name}: the file ends after chunk {self._index} at byte {at} without its "
                "final chunk: it is truncated"
            )
        flags, length = _FRAME.unpack(frame)
        if flags & ~FINAL_FLAG or not TAG_SIZE <= length <= self.chunk_size + TAG_SIZE:
            raise CorruptArchiveError(
                f"{self._name}: chunk {self._index} at byte {at} has a damaged frame"
            )
        ciphertext = _read_exact(self._source, length)
        if len(ciphertext) < length:
            raise CorruptArchiveError(
                f"{self._name}: the file ends inside chunk {self._index} at byte {at}: "
                "it is truncated"
            )
        try:
            plaintext = self._aead.decrypt(
                _chunk_nonce(self._index), ciphertext, _chunk_aad(self._digest, self._index, flags)
            )
        except InvalidTag:
            raise CorruptArchiveError(
                f"{self._name}: chunk {self._index} at byte {at} failed authentication: the file "
                "was altered, damaged or its chunks reordered"
            ) from None
        self._offset += _FRAME.size + length
        self.ciphertext_bytes = self._offset
        self._index += 1
        if flags & FINAL_FLAG:
            self._finished = True
            if self._source.read(1):
                raise CorruptArchiveError(
                    f"{self._name}: data follows the final chunk at byte {self._offset}: "
                    "the file was extended"
                )
        self._current = memoryview(plaintext)
        return True

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else None
        while wanted is None or wanted > 0:
            if not self._current and not self._next_chunk():
                break
            take = len(self._current) if wanted is None else min(wanted, len(self._current))
            parts.append(bytes(self._current[:take]))
            self._current = self._current[take:]
            if wanted is not None:
                wanted -= take
        data = b"".join(parts)
        self.plaintext_bytes += len(data)
        return data

    def drain(self) -> int:
        """Authenticate the rest of the stream without keeping it; returns the bytes skipped."""
        skipped = len(self._current)
        self._current = memoryview(b"")
        while self._next_chunk():
            skipped += len(self._current)
            self._current = memoryview(b"")
        self.plaintext_bytes += skipped
        return skipped


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A 0600 file that appears at `path` only once complete (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
