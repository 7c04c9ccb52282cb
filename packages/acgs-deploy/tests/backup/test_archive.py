"""The encrypted container: round trips, and every kind of damage is refused with a clear error."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
from pathlib import Path

import pytest

from acgs_deploy.backup.archive import (
    MAX_SCRYPT_MEMORY,
    ArchiveError,
    ArchiveReader,
    ArchiveWriter,
    CorruptArchiveError,
    Passphrase,
    ScryptParams,
    WrongKeyError,
    atomic_output,
)

FAST = ScryptParams(n=1 << 10, r=8, p=1)
KEY = Passphrase("correct horse battery staple")


def seal(payload: bytes, chunk_size: int = 1000, writes: int = 7) -> bytes:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink, KEY, params=FAST, chunk_size=chunk_size)
    step = max(1, len(payload) // writes)
    for start in range(0, len(payload), step):
        writer.write(payload[start : start + step])
    writer.close()
    return sink.getvalue()


def open_all(data: bytes, key: Passphrase = KEY, read_size: int = 333) -> bytes:
    reader = ArchiveReader(io.BytesIO(data), key, name="b.acgsbak")
    out = bytearray()
    while block := reader.read(read_size):
        out += block
    return bytes(out)


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 5000, 12345])
def test_round_trip_any_size(size: int) -> None:
    payload = os.urandom(size)
    assert open_all(seal(payload)) == payload


def test_each_file_has_its_own_salt_and_ciphertext() -> None:
    payload = b"same" * 100
    first, second = seal(payload), seal(payload)
    assert first != second
    assert payload not in first


def test_wrong_key_is_named() -> None:
    with pytest.raises(WrongKeyError, match="key does not open"):
        open_all(seal(b"x" * 3000), Passphrase("not the key"))


def test_flipped_byte_anywhere_is_refused() -> None:
    data = seal(os.urandom(4500))
    # Every position: magic, header, header tag, frames, ciphertexts, tags.
    for position in range(0, len(data), 7):
        damaged = bytearray(data)
        damaged[position] ^= 0x40
        with pytest.raises(ArchiveError):
            open_all(bytes(damaged))


def test_truncation_at_every_chunk_boundary_and_inside_is_refused() -> None:
    data = seal(os.urandom(4500))
    for cut in [len(data) - 1, len(data) - 17, *range(200, len(data), 501)]:
        with pytest.raises(CorruptArchiveError, match=r"truncated|failed authentication"):
            open_all(data[:cut])


def test_dropping_whole_last_chunk_is_truncation() -> None:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink, KEY, params=FAST, chunk_size=100)
    writer.write(b"a" * 350)
    before_final = len(sink.getvalue())
    writer.close()
    with pytest.raises(CorruptArchiveError, match="without its final chunk"):
        open_all(sink.getvalue()[:before_final])


def test_extension_is_refused() -> None:
    with pytest.raises(CorruptArchiveError, match="extended"):
        open_all(seal(b"abc" * 1000) + b"\0")


def test_swapped_chunks_are_refused() -> None:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink, KEY, params=FAST, chunk_size=100)
    header_end = len(sink.getvalue())
    writer.write(b"A" * 100 + b"B" * 100 + b"C")
    writer.close()
    data = sink.getvalue()
    frame = 5 + 100 + 16
    first = data[header_end : header_end + frame]
    second = data[header_end + frame : header_end + 2 * frame]
    swapped = data[:header_end] + second + first + data[header_end + 2 * frame :]
    with pytest.raises(CorruptArchiveError, match=r"chunk 0 .* failed authentication"):
        open_all(swapped)


def test_not_a_backup() -> None:
    with pytest.raises(ArchiveError, match="not an ACGS backup"):
        open_all(b"Salted__" + os.urandom(100))


def test_header_cannot_demand_huge_kdf_cost() -> None:
    data = seal(b"x")
    length = struct.unpack(">I", data[8:12])[0]
    header = data[12 : 12 + length].replace(b'"n": 1024', b'"n": 1073741824')
    tampered = data[:8] + struct.pack(">I", len(header)) + header + data[12 + length :]
    with pytest.raises(ArchiveError, match="power of two between 2 and 2\\^20"):
        open_all(tampered)


def with_kdf(data: bytes, **params: int) -> bytes:
    """`data` with its header's scrypt parameters replaced (the header tag no longer matches)."""
    length = struct.unpack(">I", data[8:12])[0]
    header = json.loads(data[12 : 12 + length])
    header["kdf"].update(params)
    raw = json.dumps(header, sort_keys=True).encode()
    return data[:8] + struct.pack(">I", len(raw)) + raw + data[12 + length :]


@pytest.mark.parametrize(
    ("params", "refusal"),
    [
        ({"n": 1 << 20, "r": 32}, "needs 4096 MiB; at most 512 MiB"),
        ({"n": 1 << 20, "r": 5}, "needs 640 MiB; at most 512 MiB"),
        ({"p": 5}, "1 <= p <= 4"),
    ],
)
def test_header_kdf_memory_and_parallelism_are_capped_before_deriving(
    params: dict[str, int], refusal: str
) -> None:
    # Without the cap these would derive first (4 GiB of memory for the first) and only then
    # fail on the header tag.
    with pytest.raises(ArchiveError, match=refusal) as refused:
        open_all(with_kdf(seal(b"x"), **params))
    assert "b.acgsbak: the header asks for a key derivation this tool refuses" in str(refused.value)


def test_what_we_write_is_well_inside_the_cap() -> None:
    assert ScryptParams().memory_bytes * 4 <= MAX_SCRYPT_MEMORY
    ScryptParams().check()
    with pytest.raises(ArchiveError, match="at most 512 MiB"):
        ArchiveWriter(io.BytesIO(), KEY, params=ScryptParams(n=1 << 20, r=8))


def test_passphrase_never_shows() -> None:
    assert "staple" not in repr(KEY)
    assert "staple" not in str(KEY)
    assert "staple" not in f"{KEY}"
    with pytest.raises(ArchiveError, match="empty"):
        Passphrase(" \n")


def test_atomic_output_is_0600_and_absent_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out" / "b.acgsbak"
    with atomic_output(target) as stream:
        stream.write(b"data")
        assert not target.exists()
    assert target.read_bytes() == b"data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    failed = tmp_path / "out" / "failed.acgsbak"

    def interrupted_backup() -> None:
        with atomic_output(failed) as stream:
            stream.write(b"half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_backup()
    assert not failed.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.acgsbak"]
