"""Stopping a child process this package started: the one way both the workloads and the monitor's consumer end."""

from __future__ import annotations

import signal
import subprocess


def stop(process: subprocess.Popen, timeout: float) -> int:
    """SIGTERM (a clean stop, as ECS and Lambda's runtime give), then SIGKILL if it does not exit within `timeout`
    seconds. Only `process`, which the caller started, is ever signalled. Returns its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
