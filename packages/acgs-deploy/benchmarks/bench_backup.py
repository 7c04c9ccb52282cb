"""Backup and restore throughput on a >= 1 GiB TSDB, beside the guide's `tar czf | openssl enc`.

Generates the TSDB in a temporary directory with `promtool tsdb create-blocks-from openmetrics`
(random float values: about 9-10 bytes per sample, as incompressible as real TSDB chunks get),
starts a real Prometheus on it, then on the same snapshot times:

- ours:     create_backup (snapshot, per-metric counts, tar -> AES-256-GCM chunks, 0600 atomic file)
            restore_backup (verify pass, extract pass, stop, swap, start, count check)
- baseline: the guide's `tar czf - DIR | openssl enc -aes-256-cbc` and
            `openssl enc -d | tar xzf -` (no integrity check, no counts)

Prints MiB/s (TSDB bytes / wall time) and our/baseline ratios. Everything is deleted at the end.
Run: `uv run python packages/acgs-deploy/benchmarks/bench_backup.py [--gib 1.0]`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from acgs_deploy.backup.archive import Passphrase
from acgs_deploy.backup.restore import RestoreTargets, restore_backup
from acgs_deploy.backup.snapshot import BackupResult, BackupSources, create_backup
from acgs_deploy.client import take_snapshot
from acgs_testkit.ports import free_port
from acgs_testkit.servers import create_blocks, prometheus, self_scrape_config

BLOCK_S = 2 * 3600
SERIES = 20_000
POINTS = BLOCK_S // 15
PASS_ENV = "BENCH_BACKUP_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
# The guide's `openssl enc -aes-256-cbc -k`, with the passphrase from the environment instead of
# argv (same cipher; one PBKDF2 round is as cheap as the guide's one MD5 round).
OPENSSL = ["openssl", "enc", "-aes-256-cbc", "-pbkdf2", "-iter", "1", "-pass", f"env:{PASS_ENV}"]


def make_block(args: tuple[Path, int, int]) -> int:
    """One 2 h block (about 90 MiB): write the OpenMetrics text, run promtool, delete the text."""
    workdir, start_s, seed = args
    rnd = random.Random(seed)  # noqa: S311 - sample values, not secrets
    pool = 65521
    # 6 significant digits still fill the float mantissa; random milliseconds cost the
    # timestamp encoding about 2 bytes, so a sample takes about 9.5 bytes on disk.
    values = [f"{rnd.random() * 1000:.6g}" for _ in range(pool)]
    millis = [f"{rnd.randrange(1000):03d}" for _ in range(pool)]
    prefixes = [f'bench_value{{series="{s}"}} ' for s in range(SERIES)]
    text = workdir / f"block-{seed}.om"
    with text.open("w", buffering=1 << 22) as out:
        out.write("# HELP bench_value random gauge\n# TYPE bench_value gauge\n")
        for point in range(POINTS):
            second = f" {start_s + point * 15}."
            offset = point * 7919
            out.write(
                "".join(
                    [
                        prefixes[s]
                        + values[(offset + s * 31) % pool]
                        + second
                        + millis[(offset + s * 17) % pool]
                        + "\n"
                        for s in range(SERIES)
                    ]
                )
            )
        out.write("# EOF\n")
    blocks = workdir / f"blocks-{seed}"
    create_blocks(text, blocks)
    text.unlink()
    size = 0
    for block in blocks.iterdir():
        size += sum(f.stat().st_size for f in block.rglob("*") if f.is_file())
        os.replace(block, workdir / "prometheus" / "data" / block.name)
    blocks.rmdir()
    return size


def generate(workdir: Path, target_bytes: int, console: Console) -> int:
    """Blocks of 2 h, two at a time, until the TSDB holds at least target_bytes."""
    (workdir / "prometheus" / "data").mkdir(parents=True)
    newest = (int(time.time()) // BLOCK_S - 2) * BLOCK_S
    total = 0
    made = 0
    with (
        console.status("generating TSDB blocks with promtool") as status,
        ProcessPoolExecutor(2) as pool,
    ):
        while total < target_bytes:
            jobs = [(workdir, newest - (made + i) * BLOCK_S, made + i) for i in range(2)]
            total += sum(pool.map(make_block, jobs))
            made += len(jobs)
            status.update(f"generating TSDB blocks with promtool: {total / (1 << 30):.2f} GiB")
    return total


def pipeline(first: list[str], second: list[str], env: dict[str, str]) -> None:
    """first | second, both must succeed (the guide's shell pipeline without a shell)."""
    producer = subprocess.Popen(first, stdout=subprocess.PIPE, env=env)
    consumer = subprocess.run(second, stdin=producer.stdout, env=env, check=False)
    assert producer.stdout is not None
    producer.stdout.close()
    if producer.wait() or consumer.returncode:
        raise RuntimeError(f"{first[0]} | {second[0]} failed")


def tree_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gib", type=float, default=1.0, help="TSDB size to generate (GiB)")
    args = parser.parse_args()
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="acgs-bench-backup-"))
    secret = os.urandom(24).hex()
    env = {**os.environ, PASS_ENV: secret}
    server = None
    try:
        started = time.monotonic()
        tsdb_bytes = generate(workdir, int(args.gib * (1 << 30)), console)
        console.print(
            f"generated {tsdb_bytes / (1 << 30):.2f} GiB in {time.monotonic() - started:.0f} s"
        )
        port = free_port()
        server = prometheus(
            workdir / "prometheus",
            self_scrape_config(port, "15s"),
            port=port,
            retention="3650d",
            # No compaction of the generated blocks while we measure.
            extra=(
                "--storage.tsdb.min-block-duration=2h",
                "--storage.tsdb.max-block-duration=2h",
            ),
        )
        server.start()
        data_dir = workdir / "prometheus" / "data"
        client = server.client()
        sources = BackupSources(prometheus=client, prometheus_data_dir=data_dir)
        passphrase = Passphrase(secret)
        seconds: dict[str, float] = {}

        marks: dict[str, float] = {}

        def mark(name: str) -> None:
            marks.setdefault(name, time.monotonic())

        t0 = time.monotonic()
        ours = create_backup(
            sources,
            workdir / "ours",
            passphrase,
            on_start=lambda _: mark("stream"),
        )
        seconds["ours backup"] = time.monotonic() - t0
        seconds["ours backup stream"] = time.monotonic() - marks["stream"]

        theirs = workdir / "guide.tar.gz.enc"
        seconds["guide backup"], snapshot_bytes = guide_backup(client, data_dir, theirs, env)

        t0 = time.monotonic()
        restored = restore_backup(
            on_phase=mark,
            path=ours.path,
            passphrase=passphrase,
            targets=RestoreTargets(
                prometheus=server.client,
                prometheus_data_dir=data_dir,
                stop=server.stop,
                start=server.start,
            ),
        )
        seconds["ours restore"] = time.monotonic() - t0
        seconds["ours restore stream"] = marks["stop"] - t0
        assert not restored.mismatches, restored.mismatches
        for previous in restored.previous.values():
            shutil.rmtree(previous)

        seconds["guide restore"] = guide_restore(theirs, workdir / "guide-restore", env)
        print_results(console, ours, theirs, snapshot_bytes, seconds)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def guide_backup(
    client: httpx.Client, data_dir: Path, archive: Path, env: dict[str, str]
) -> tuple[float, int]:
    """The guide's `tar czf - | openssl enc` of a snapshot of the same data into `archive`:
    (seconds, bytes of the snapshot)."""
    snapshot_dir = take_snapshot(client, data_dir)
    started = time.monotonic()
    pipeline(
        ["tar", "czf", "-", "-C", str(snapshot_dir), "."],
        [*OPENSSL, "-salt", "-out", str(archive)],
        env,
    )
    elapsed = time.monotonic() - started
    size = tree_bytes(snapshot_dir)
    shutil.rmtree(snapshot_dir)
    return elapsed, size


def guide_restore(archive: Path, out: Path, env: dict[str, str]) -> float:
    """The guide's `openssl enc -d | tar xzf -` into `out`: seconds."""
    out.mkdir()
    started = time.monotonic()
    pipeline([*OPENSSL, "-d", "-in", str(archive)], ["tar", "xzf", "-", "-C", str(out)], env)
    return time.monotonic() - started


def print_results(
    console: Console,
    ours: BackupResult,
    theirs: Path,
    snapshot_bytes: int,
    seconds: dict[str, float],
) -> None:
    """Throughput (MiB of TSDB per second) of ours and the guide's pipeline, side by side."""
    mib = ours.manifest.total_bytes / (1 << 20)
    guide_mib = snapshot_bytes / (1 << 20)
    table = Table(
        title=f"backup/restore of a {mib / 1024:.2f} GiB TSDB "
        f"({ours.manifest.total_samples:,} samples), MiB/s of TSDB"
    )
    for column in ("", "ours", "guide: tar czf | openssl enc", "ours vs guide"):
        table.add_column(column, justify="right")

    def row(name: str, ours_s: float, guide_s: float | None) -> None:
        guide = f"{guide_mib / guide_s:,.0f} MiB/s ({guide_s:.1f} s)" if guide_s else "-"
        ratio = f"{guide_s / ours_s:.2f}x as fast" if guide_s else ""
        table.add_row(name, f"{mib / ours_s:,.0f} MiB/s ({ours_s:.1f} s)", guide, ratio)

    backup_s, restore_s = seconds["guide backup"], seconds["guide restore"]
    row("backup: archive (tar, encrypt, write)", seconds["ours backup stream"], backup_s)
    row("backup: + snapshot and per-metric counts", seconds["ours backup"], backup_s)
    row("restore: verify every tag/hash + extract", seconds["ours restore stream"], restore_s)
    row("restore: + stop, swap, start, count check", seconds["ours restore"], restore_s)
    table.add_row(
        "archive size",
        f"{ours.archive_bytes / (1 << 20):,.0f} MiB",
        f"{theirs.stat().st_size / (1 << 20):,.0f} MiB",
        f"{ours.archive_bytes / theirs.stat().st_size:.2f}x the size",
    )
    table.add_row("integrity / counts checked", "yes / yes", "no / no", "")
    console.print(table)
    console.print(
        "The guide's pipeline neither verifies nor counts; the first and third rows compare "
        "the same work. Counting decodes every sample through PromQL on both sides of a "
        "restore, which is what the extra time in rows two and four buys."
    )


if __name__ == "__main__":
    main()
