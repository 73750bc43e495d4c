"""The named errors the testbed raises; each message says what to do next.

Every error meant for a user is a `TestbedError`; the CLI catches them in one place
(`serverless_testbed.cli`) and prints one line, exiting with the error's `exit_code`. The codes are
listed in README.md ("The command line"); `EXIT_CODES` is that table.

Only the standard library is imported here: the compose init hook runs `serverless_testbed.deploy`
with the LocalStack image's Python.
"""

# Not an error class: the exit code of a run or demo that finished but found records
# that did not end as expected (the run's verdict, like a failed test).
RUN_PROBLEMS_EXIT_CODE = 1
# Click's own code for usage errors (unknown option, bad value), kept for ours.
USAGE_EXIT_CODE = 2
# Ctrl-C: the shell's convention (128 + SIGINT).
INTERRUPTED_EXIT_CODE = 130


class TestbedError(Exception):
    """Base of every error the testbed reports to a user."""

    __test__ = False  # not a pytest test class despite the name
    exit_code = 10


class BadInput(TestbedError, ValueError):
    """A value given on the command line or to a function is not one the testbed accepts."""

    exit_code = USAGE_EXIT_CODE


class EngineError(TestbedError):
    """An engine failed to start, answer or stop."""

    exit_code = 4


class EngineNotUp(EngineError):
    """No engine is up for this checkout, or the recorded one crashed or stopped meanwhile."""

    exit_code = 3


class EngineUnavailable(EngineError):
    """The chosen target cannot run here (for example: no Docker engine answers)."""

    exit_code = 5


class TargetRefused(TestbedError):
    """A safety guard refused the target (real AWS not asked for, dummy credentials...)."""

    exit_code = 6


class StackError(TestbedError, ValueError):
    """The stack description is inconsistent (a dangling Ref, a duplicate name...)."""

    exit_code = 7


class DeployError(TestbedError):
    """A call of the plan failed; the message names the resource and the call."""

    exit_code = 8


class WaitTimeout(TestbedError):
    """A bounded wait ran out; the message holds what was expected and what was seen."""

    exit_code = 9


EXIT_CODES: dict[int, str] = {
    0: "done",
    RUN_PROBLEMS_EXIT_CODE: "a run or demo finished, but records did not end as expected",
    USAGE_EXIT_CODE: "usage: unknown target, workflow, kind, format or option value",
    EngineNotUp.exit_code: "no engine is up, or it stopped while the command ran",
    EngineError.exit_code: "an engine failed to start, answer or stop (a port in use, a record it cannot use)",
    EngineUnavailable.exit_code: "the target cannot run here (no Docker engine, no AWS_ENDPOINT_URL)",
    TargetRefused.exit_code: "a guard refused the aws target (dummy credentials, an endpoint set, the wrong account)",
    StackError.exit_code: "the stack model is inconsistent (a dangling reference, a duplicate name)",
    DeployError.exit_code: "a call of the deploy failed (the line names the resource and the call)",
    WaitTimeout.exit_code: "a bounded wait ran out (the line says what was expected and what was seen)",
    TestbedError.exit_code: "any other testbed error",
    INTERRUPTED_EXIT_CODE: "interrupted (Ctrl-C); what the command was starting is stopped",
}
