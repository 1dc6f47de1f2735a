"""Placeholder video worker: writes a heartbeat every few seconds until SIGTERM."""

import os
import signal
import sys
import time

HEARTBEAT = os.environ.get("HEARTBEAT_FILE", "/tmp/heartbeat")
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
print('{"level":"info","msg":"video worker placeholder started"}', flush=True)
while running:
    with open(HEARTBEAT, "w") as fh:
        fh.write(str(time.time()))
    time.sleep(5)
print('{"level":"info","msg":"video worker stopped"}', flush=True)
sys.exit(0)
