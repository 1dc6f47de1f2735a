"""Container health check: healthy while the worker's heartbeat is fresher than 60 seconds."""

import os
import sys
import time
from pathlib import Path

path = os.environ.get("HEARTBEAT_FILE", "/tmp/heartbeat")
try:
    age = time.time() - float(Path(path).read_text())
except (OSError, ValueError):
    sys.exit(1)
sys.exit(0 if age < 60 else 1)
