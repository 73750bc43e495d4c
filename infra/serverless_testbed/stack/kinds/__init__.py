"""The resource kinds, one module each: its dataclass, desired state, read-back, calls,
policies and CloudFormation form (`serverless_testbed.stack.resource` says what a kind
provides). A new kind is a module here and a line in KINDS."""

from __future__ import annotations

from serverless_testbed.stack.kinds.bucket import Bucket, Notification
from serverless_testbed.stack.kinds.event_source_mapping import EventSourceMapping
from serverless_testbed.stack.kinds.function import Function
from serverless_testbed.stack.kinds.layer import Layer
from serverless_testbed.stack.kinds.permission import Permission
from serverless_testbed.stack.kinds.queue import Queue
from serverless_testbed.stack.kinds.rest_api import RestApi
from serverless_testbed.stack.kinds.role import Role
from serverless_testbed.stack.kinds.rule import Rule
from serverless_testbed.stack.kinds.schedule import Schedule
from serverless_testbed.stack.kinds.state_machine import StateMachine
from serverless_testbed.stack.kinds.stream import Stream
from serverless_testbed.stack.kinds.subscription import Subscription
from serverless_testbed.stack.kinds.table import GlobalIndex, Table
from serverless_testbed.stack.kinds.topic import RuntimeTopic, Topic
from serverless_testbed.stack.resource import Resource

KINDS: tuple[type[Resource], ...] = (
    Bucket,
    EventSourceMapping,
    Function,
    Layer,
    Permission,
    Queue,
    RestApi,
    Role,
    Rule,
    RuntimeTopic,
    Schedule,
    StateMachine,
    Stream,
    Subscription,
    Table,
    Topic,
)

__all__ = [
    "KINDS",
    "Bucket",
    "EventSourceMapping",
    "Function",
    "GlobalIndex",
    "Layer",
    "Notification",
    "Permission",
    "Queue",
    "RestApi",
    "Role",
    "Rule",
    "RuntimeTopic",
    "Schedule",
    "StateMachine",
    "Stream",
    "Subscription",
    "Table",
    "Topic",
]
