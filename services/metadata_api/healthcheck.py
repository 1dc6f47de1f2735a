"""Container health check: GET http://localhost:PORT/health answers 200."""

import sys
import urllib.error
import urllib.request

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_OK

port = sys.argv[1] if len(sys.argv) > 1 else "8080"
try:
    with urllib.request.urlopen(f"http://localhost:{port}/health", timeout=3) as response:
        sys.exit(EXIT_OK if response.status == 200 else EXIT_FINDINGS)  # Docker's "unhealthy"
except urllib.error.HTTPError as answer:  # a 4xx or 5xx: an answer, which holds its connection until closed
    answer.close()
    sys.exit(EXIT_FINDINGS)
except OSError:
    sys.exit(EXIT_FINDINGS)
