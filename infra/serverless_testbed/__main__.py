"""The `testbed` command's entry point (also `python -m serverless_testbed`).

The command line module is imported here, not by the console script itself, so Ctrl-C while
it loads ends with exit code 130 and no traceback, as it does once a command runs.
"""

import sys


def main() -> None:
    """Load the command line and run it."""
    try:
        from serverless_testbed.cli import app
    except KeyboardInterrupt:
        sys.exit(130)  # INTERRUPTED_EXIT_CODE, without importing more while interrupted
    app()


if __name__ == "__main__":
    main()
