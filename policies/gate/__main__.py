"""`python -m policies.gate`: the gate's command line (policies/gate/cli.py)."""

import sys

from policies.gate.cli import main

sys.exit(main())
