"""`python -m cdk_app`: the command cdk.json runs."""

import sys

from cdk_app.app import main

if __name__ == "__main__":
    sys.exit(main())
