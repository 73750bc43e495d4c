"""Engines: the places the stack can run. `engine_for(settings)` picks one by target."""

from serverless_testbed.engine.base import Engine
from serverless_testbed.engine.container import ContainerEngine
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.engine.remote import AwsEngine, ComposeEngine, EndpointEngine
from serverless_testbed.settings import Settings

__all__ = ["Engine", "engine_for"]


def engine_for(settings: Settings) -> Engine:
    """The engine for `settings.target` (not started yet)."""
    engines: dict[str, type[Engine]] = {
        "embedded": EmbeddedEngine,
        "compose": ComposeEngine,
        "container": ContainerEngine,
        "endpoint": EndpointEngine,
        "aws": AwsEngine,
    }
    return engines[settings.target](settings)
