"""`python -m perf_mcp.cli`: the console script, from a source checkout."""

import sys

from perf_mcp.cli import main

if __name__ == "__main__":
    sys.exit(main())
