"""Signals handled off the interrupted code's path: a process's long-running loops stop on SIGTERM whatever they
were doing when it came.

A Python signal handler runs in the main thread, between two bytecodes of whatever that thread was running. One
that logs or sets a `threading.Event` takes a lock, and when the interrupted code held that same lock (it was
writing a log line, or inside the event's own wait) the process deadlocks: it ignores every later SIGTERM until
it is killed. Here the handler only writes the signal's number to a pipe; a thread of its own reads it and runs
the callback, holding nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

#: The handlers each on_signals call replaced, in the order of the calls: what a forked child gets back.
_replaced: list[dict[int, Any]] = []


def _after_fork_in_child() -> None:
    """A child forked without exec has no pump thread, and the pipe its handler writes to is its parent's: a
    SIGTERM sent to the child would run the parent's callback (stopping the parent) and leave the child running.
    The child gets back the handlers on_signals replaced, the last call's first."""
    for replaced in reversed(_replaced):
        for signum, before in replaced.items():
            signal.signal(signum, signal.SIG_DFL if before is None else before)
    _replaced.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def on_signals(signums: Iterable[int], callback: Callable[[int], None]) -> None:
    """From now on, each of `signums` this process receives runs `callback(signum)` on the thread this starts (a
    daemon), in the order received; a callback that raises is reported on stderr and the next signal still runs
    it. Call from the main thread, as `signal.signal` requires. A child forked without exec gets back the
    handlers this replaced (it has no thread of this call's)."""
    if threading.current_thread() is not threading.main_thread():
        raise ValueError("on_signals must be called from the main thread")  # before the pipe and the thread
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(write_end, False)
    # A signal already in the pipe and not yet taken by the callback is not written again: the pipe holds at
    # most one byte per signal (a nested handler may add a second), so it never fills, and a SIGTERM after a
    # flood of another signal is never dropped. A signal that comes again while pending runs the callback once,
    # as the kernel merges a pending signal.
    pending: set[int] = set()

    def handler(signum: int, _frame: object) -> None:
        if signum not in pending:
            pending.add(signum)
            with contextlib.suppress(BlockingIOError):  # full: cannot be, by the above
                os.write(write_end, bytes([signum]))

    def pump() -> None:
        while data := os.read(read_end, 64):
            for signum in data:
                pending.discard(signum)  # before the callback: one that comes during it runs it again
                try:
                    callback(signum)
                except Exception as exc:  # noqa: BLE001  # the signals after it must still reach the callback
                    with contextlib.suppress(OSError, ValueError):
                        print(f"error: handling signal {signum}: {exc!r}", file=sys.stderr, flush=True)

    threading.Thread(target=pump, name="signals", daemon=True).start()
    _replaced.append({signum: signal.signal(signum, handler) for signum in signums})
