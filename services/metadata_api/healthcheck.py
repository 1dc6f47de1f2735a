"""Container health check: GET http://localhost:PORT/health answers 200."""

import sys
import urllib.request

port = sys.argv[1] if len(sys.argv) > 1 else "8080"
try:
    with urllib.request.urlopen(f"http://localhost:{port}/health", timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
