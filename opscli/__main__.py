"""`python -m opscli`."""

import sys

from platform_spec.exit_codes import EXIT_INTERRUPTED

try:
    from opscli.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting: nothing ran, nothing to report
    sys.stderr.write("opscli: interrupted before any check ran\n")
    sys.exit(EXIT_INTERRUPTED)

if __name__ == "__main__":
    sys.exit(main())
