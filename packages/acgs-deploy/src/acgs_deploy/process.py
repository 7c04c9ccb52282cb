"""Background processes with pid files: start, find, stop, and nothing we did not start.

Each process runs in its own session (it survives the deploy command), writes to
``<logs>/<name>.log`` and is recorded in ``<run>/<name>.pid`` as JSON: pid, argv and the
kernel's start time of the process. A recorded process counts as ours only while
``/proc/<pid>`` still shows the same command line and start time, so a reused pid is never
signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ProcessManager", "ProcessSpec"]

# Popen objects of children started by this interpreter, so they are reaped when stopped.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: Path | None = None
    # Run as this system user (with its group and no supplementary groups): PostgreSQL
    # refuses root. The process itself, not a runuser parent, so its pid is the server's.
    user: str | None = None
    # What `stop` sends first (recorded in the pid file): SIGINT is PostgreSQL's fast shutdown,
    # where SIGTERM would wait for every client to disconnect.
    stop_signal: signal.Signals = signal.SIGTERM


@dataclass(frozen=True)
class _Record:
    pid: int
    argv: list[str]
    start: int | None
    stop_signal: signal.Signals = signal.SIGTERM


@dataclass(frozen=True)
class ProcessManager:
    run_dir: Path
    logs_dir: Path

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def start(self, spec: ProcessSpec) -> int:
        """Start ``spec`` in the background and record it; returns the pid."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ if spec.env is None else spec.env)
        uid = gid = None
        groups: list[int] | None = None
        if spec.user is not None:
            entry = pwd.getpwnam(spec.user)
            uid, gid, groups = entry.pw_uid, entry.pw_gid, []
        with self.log_file(spec.name).open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} starting\n".encode())
            log.flush()
            process = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=spec.cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        _children[process.pid] = process
        # Popen returns once exec has begun, but for a moment /proc/<pid>/cmdline still reads
        # empty; until it shows the new command, `running` (and so `stop`) would not know it.
        deadline = time.monotonic() + 5
        while not _cmdline(process.pid) and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.001)
        record = {
            "pid": process.pid,
            "argv": list(spec.argv),
            "start": _start_time(process.pid),
            "stop_signal": int(spec.stop_signal),
        }
        temporary = self.pid_file(spec.name).with_suffix(".pid.tmp")
        temporary.write_text(json.dumps(record))
        os.replace(temporary, self.pid_file(spec.name))
        return process.pid

    def recorded(self) -> list[str]:
        """Names of every process with a pid file."""
        if not self.run_dir.is_dir():
            return []
        return sorted(path.stem for path in self.run_dir.glob("*.pid"))

    def running(self, name: str) -> int | None:
        """The pid of ``name`` if the process we recorded is still alive, else None."""
        record = self._read(name)
        if record is None:
            return None
        if _is_zombie_or_gone(record.pid):
            _reap(record.pid)
            return None
        if not _same_command(_cmdline(record.pid), record.argv):
            return None
        if _start_time(record.pid) != record.start:
            return None
        return record.pid

    def recorded_argv(self, name: str) -> list[str] | None:
        """The command line ``name`` was started with, from its pid file."""
        record = self._read(name)
        return None if record is None else record.argv

    def frozen(self, name: str) -> bool:
        """True when ``name`` runs but is stopped by a signal (SIGSTOP, SIGTSTP, a tracer)."""
        pid = self.running(name)
        fields = None if pid is None else _stat_fields(pid)
        return fields is not None and fields[0] in ("T", "t")

    def stop(self, name: str, timeout: float = 10.0) -> bool:
        """Stop ``name`` if it is the process we started: its stop signal (SIGTERM unless the
        spec said otherwise; and SIGCONT, so a frozen process gets it), then SIGKILL after
        `timeout` seconds.

        Returns True when a process was stopped. The pid file is removed either way.
        """
        pid = self.running(name)
        record = self._read(name)
        stopped = False
        if pid is not None and record is not None:
            _signal(pid, record.stop_signal)
            _signal(pid, signal.SIGCONT)
            deadline = time.monotonic() + timeout
            while not _is_zombie_or_gone(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _is_zombie_or_gone(pid):
                _signal(pid, signal.SIGKILL)
                while not _is_zombie_or_gone(pid):
                    time.sleep(0.05)
            _reap(pid)
            stopped = True
        self.pid_file(name).unlink(missing_ok=True)
        return stopped

    def _read(self, name: str) -> _Record | None:
        try:
            raw = json.loads(self.pid_file(name).read_text())
            return _Record(
                pid=int(raw["pid"]),
                argv=[str(a) for a in raw["argv"]],
                start=raw["start"],
                stop_signal=signal.Signals(int(raw.get("stop_signal", signal.SIGTERM))),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _same_command(cmdline: list[str] | None, argv: list[str]) -> bool:
    # A script started through its shebang shows the interpreter first.
    return cmdline is not None and (cmdline == argv or cmdline[1:] == argv)


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _children[pid] = child


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _is_zombie_or_gone(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    # Field 22 of /proc/<pid>/stat (starttime); fields here start at field 3.
    return None if fields is None else int(fields[19])


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]
