"""The few named errors the testbed raises; each message says what to do next."""


class TestbedError(Exception):
    """Base of every error the testbed reports to a user."""

    __test__ = False  # not a pytest test class despite the name


class EngineError(TestbedError):
    """An engine failed to start, answer or stop."""


class EngineUnavailable(EngineError):
    """The chosen target cannot run here (for example: no Docker engine answers)."""


class TargetRefused(TestbedError):
    """A safety guard refused the target (real AWS not asked for, dummy credentials...)."""


class WaitTimeout(TestbedError):
    """A bounded wait ran out; the message holds what was expected and what was seen."""
