"""Signals held while a restore has the stack stopped: recorded, not acted on, then the
previous handlers are back. (The whole-stack test sends SIGTERM to a real restore.)"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from acgs_deploy.backup.signals import held_signals


def test_signals_inside_are_recorded_and_handlers_come_back(
    capfd: pytest.CaptureFixture[str],
) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with held_signals("finishing first") as received:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        signal.raise_signal(signal.SIGHUP)  # delivered synchronously, like the others here
    assert received == ["SIGTERM", "SIGINT", "SIGTERM", "SIGHUP"]
    assert {sig: signal.getsignal(sig) for sig in before} == before
    err = capfd.readouterr().err
    # One line per kind of signal, not per signal.
    assert err.count("SIGTERM received: finishing first") == 1
    assert "SIGINT received: finishing first" in err
    with pytest.raises(KeyboardInterrupt):  # SIGINT acts again after the block
        os.kill(os.getpid(), signal.SIGINT)


def test_outside_the_main_thread_nothing_is_held() -> None:
    results: list[list[str]] = []

    def run() -> None:
        with held_signals("n/a") as received:
            results.append(received)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert results == [[]]
