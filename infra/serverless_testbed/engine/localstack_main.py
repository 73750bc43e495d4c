"""LocalStack's runtime entry point, minus the interpreter's final clean-up.

`python -m serverless_testbed.engine.localstack_main` runs `localstack.runtime.main` unchanged. Once
LocalStack has finished its own orderly shutdown ("Completed, bye!"), CPython's
finalisation still spends 2-3 s garbage-collecting LocalStack's large heap and joining
idle pool threads; nothing there needs to run, so the process leaves at once.
"""

import logging
import os
import sys

from localstack.runtime.main import main


def run() -> None:
    """Run LocalStack, then exit with its code without interpreter finalisation."""
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
