"""`python -m opscli`."""

import sys

from opscli.cli import main

if __name__ == "__main__":
    sys.exit(main())
