"""Graceful shutdown: SIGTERM (ECS stopping the task) or SIGINT sets `stop`; the service finishes what it
is doing and exits within the task's stopTimeout."""

from __future__ import annotations

import signal
import threading

from services.common.log import JsonLogger


class Shutdown:
    def __init__(self) -> None:
        self.stop = threading.Event()

    def install(self, logger: JsonLogger) -> Shutdown:
        def handler(signum: int, _frame: object) -> None:
            if not self.stop.is_set():
                logger.info("shutdown_requested", signal=signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        return self
