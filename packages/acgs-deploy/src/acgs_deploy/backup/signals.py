"""Hold back SIGINT, SIGTERM and SIGHUP while a restore has the stack stopped.

Between stopping the stack and starting it again (or rolling back), an interrupt would leave
monitoring down with the live data set aside. Inside `held_signals` those signals are recorded
instead of acted on; the caller finishes the step and then honours them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["HELD_SIGNALS", "held_signals"]

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def held_signals(notice: str) -> Iterator[list[str]]:
    """Record the held signals that arrive inside the block (their names, in order) and write
    `<name> received: <notice>` to stderr at the first of each; the previous handlers are back
    after the block. Outside the main thread Python delivers no signals: nothing to hold."""
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def record(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if name not in received:
            # os.write: safe inside a handler, unlike print to a buffered stream
            os.write(2, f"{name} received: {notice}\n".encode())
        received.append(name)

    previous = {sig: signal.signal(sig, record) for sig in HELD_SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
