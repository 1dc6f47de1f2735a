"""`python -m opscli`."""

import sys

try:
    from opscli.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting: nothing ran, nothing to report
    sys.stderr.write("opscli: interrupted before any check ran\n")
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
