"""Graceful shutdown: SIGTERM (ECS stopping the task) or SIGINT sets `stop`; the service finishes what it
is doing and exits within the task's stopTimeout."""

from __future__ import annotations

import signal
import threading

from platform_utils.signals import on_signals
from services.common.log import JsonLogger


class Shutdown:
    def __init__(self) -> None:
        self.stop = threading.Event()

    def install(self, logger: JsonLogger) -> Shutdown:
        """The handler logs and sets `stop` on a thread of its own (platform_utils.signals): run in the main thread,
        it deadlocked on the logger's lock when the signal came while a line was being written."""
        def stopping(signum: int) -> None:
            try:
                if not self.stop.is_set():  # logged before the service's own stop lines, which `stop` starts
                    logger.info("shutdown_requested", signal=signal.Signals(signum).name)
            finally:
                self.stop.set()  # also when stdout cannot take the line (its reader gone)

        on_signals((signal.SIGTERM, signal.SIGINT), stopping)
        return self
