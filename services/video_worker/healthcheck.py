"""Container health check: healthy while the worker's heartbeat is fresher than 60 seconds."""

import os
import sys
import time
from pathlib import Path

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_OK

path = os.environ.get("HEARTBEAT_FILE", "/tmp/heartbeat")
try:
    age = time.time() - float(Path(path).read_text())
except (OSError, ValueError):
    sys.exit(EXIT_FINDINGS)  # Docker's "unhealthy"
sys.exit(EXIT_OK if age < 60 else EXIT_FINDINGS)
