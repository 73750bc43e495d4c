"""Distributed Map runs as AWS keeps them: child executions with their own histories, right
counts, and the tolerated failure threshold (an on_infra_start hook; off in stock mode).

On AWS each iteration of a Distributed Map is a child workflow execution "with its own
execution history, separate from the parent" (Developer Guide, "Using Map state in
Distributed mode", state-map-distributed.html); `ListExecutions` with `mapRunArn` lists
them (API reference, ListExecutions; each item with `mapRunArn` and `itemCount`),
`DescribeExecution` and `GetExecutionHistory` answer for each, and `DescribeMapRun`
counts items and executions by status (MapRunItemCounts, MapRunExecutionCounts). A Map
Run fails, with `States.ExceedToleratedFailureThreshold`, when its failed or timed-out
items exceed `ToleratedFailureCount`, or their share of all items exceeds
`ToleratedFailurePercentage` (either one, when both are given); with neither, the
tolerated threshold is zero ("Setting failure thresholds for Distributed Map states",
maprun-fail-threshold.html).

LocalStack 4.14.0 evaluates each iteration in a frame whose events go to a throw-away
event manager, keeps no execution for it, answers `ListExecutions(mapRunArn=...)` with
an InternalError (it requires a state machine ARN), leaves failed iterations counted as
running, and reports a Map Run SUCCEEDED whatever its iterations did. Here each
iteration gets a history and an execution in the store (`MapRunChild`), the counters
move as AWS's do, and the threshold is checked once every iteration has ended (AWS may
also let children run on after the threshold is crossed, before the Map Run fails).
"""

from __future__ import annotations

import datetime
import logging
from types import ModuleType
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.imports import after_import
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)

_MAP = "localstack.services.stepfunctions.asl.component.state.state_execution.state_map"
WORKER_MODULES = (
    f"{_MAP}.iteration.itemprocessor.distributed_item_processor_worker",
    f"{_MAP}.iteration.iterator.distributed_iterator_worker",
)
COMPONENT_MODULE = f"{_MAP}.iteration.distributed_iteration_component"
STATE_MAP_MODULE = f"{_MAP}.state_map"
PROVIDER_MODULE = "localstack.services.stepfunctions.provider"

THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
# Which tolerance fields a Map state declares (the engine fills both with 0 when absent).
_DECLARED = "_testbed_tolerance_declared"
_CHILDREN = "_testbed_children"
# An execution ARN with a Map Run's `machine/label` part (AWS's form for child executions).
_EXECUTION_ARN = (
    r"^arn:aws[\w-]*:states:[a-z0-9-]+:[0-9]{12}:(stateMachine|execution|express):"
    r"[a-zA-Z0-9-_.]+(/[a-zA-Z0-9-_.]+)?(:\d+)?(:[a-zA-Z0-9-_.]+)*$"
)


def exceeds_threshold(
    failed: int, total: int, count: int, percentage: float, declared: tuple[bool, bool] = (True, True)
) -> bool:
    """Whether `failed` of `total` items exceed the tolerated failure threshold. `declared`
    says which of ToleratedFailureCount and ToleratedFailurePercentage the state gives; with
    neither, no failure is tolerated."""
    count_declared, percentage_declared = declared
    if not count_declared and not percentage_declared:
        return failed > 0
    if count_declared and failed > count:
        return True
    return percentage_declared and total > 0 and failed * 100.0 / total > percentage


@hooks.on_infra_start()
@only_in_testbed_engine(fidelity=True)  # off in stock mode: the engine answers as stock LocalStack
def trace_distributed_map_runs() -> None:
    for name in WORKER_MODULES:
        after_import(name, _patch_worker)
    after_import(COMPONENT_MODULE, _patch_component)
    after_import(STATE_MAP_MODULE, _patch_state_map)
    after_import(PROVIDER_MODULE, _patch_provider)


def _patch_state_map(module: ModuleType) -> None:
    """Remember which tolerance fields each Map state declares, on its iteration component."""
    tolerance = __import__(f"{_MAP}.tolerated_failure", fromlist=["ToleratedFailureCountDecl"])
    original = module.StateMap.from_state_props

    def from_state_props(self: Any, state_props: Any) -> None:
        original(self, state_props)
        declared = (
            state_props.get(tolerance.ToleratedFailureCountDecl) is not None,
            state_props.get(tolerance.ToleratedFailurePercentageDecl) is not None,
        )
        setattr(self.iteration_component, _DECLARED, declared)

    module.StateMap.from_state_props = from_state_props


def _patch_component(module: ModuleType) -> None:
    """After every iteration of a Map Run has ended, fail the run beyond its threshold."""
    from localstack.aws.api.stepfunctions import HistoryEventType, MapRunFailedEventDetails
    from localstack.services.stepfunctions.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from localstack.services.stepfunctions.asl.component.common.error_name.states_error_name import StatesErrorName
    from localstack.services.stepfunctions.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from localstack.services.stepfunctions.asl.eval.event.event_detail import EventDetails

    original = module.DistributedIterationComponent._map_run

    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        original(self, env, eval_input)
        record = eval_input.map_run_record
        items = record.item_counter
        failed = items.failed.get() + items.timed_out.get()
        declared = getattr(self, _DECLARED, (False, False))
        count, percentage = eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage
        if not exceeds_threshold(failed, items.total.get(), count, percentage, declared):
            return
        details = MapRunFailedEventDetails(error=THRESHOLD_ERROR, cause=THRESHOLD_CAUSE)
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                event_type=HistoryEventType.MapRunFailed,
                event_details=EventDetails(mapRunFailedEventDetails=details),
            )
        )

    module.DistributedIterationComponent._map_run = _map_run


def _patch_worker(module: ModuleType) -> None:
    """Each job of a Distributed Map worker runs as a child execution with its own history."""
    worker_class = next(
        value
        for name, value in vars(module).items()
        if name.startswith("Distributed") and name.endswith("Worker") and isinstance(value, type)
    )
    worker_class._eval_job = _eval_job  # type: ignore[attr-defined]


def _eval_job(self: Any, env: Any, job: Any) -> None:
    """One iteration as a child execution: its events in its own history (ExecutionStarted to
    ExecutionSucceeded/Failed), its status in the Map Run's item and execution counters."""
    from localstack.services.stepfunctions.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from localstack.services.stepfunctions.asl.component.common.timeouts.timeout import EvalTimeoutError
    from localstack.services.stepfunctions.asl.eval.states import ItemData, MapData

    record = self._map_run_record
    child = _child_for(record, env)
    for counter in (record.item_counter, record.execution_counter):
        counter.total.count()
        counter.running.count()
    outcome, output, error, cause = "failed", None, "States.Runtime", ""
    try:
        env.states.context_object.context_object_data["Map"] = MapData(
            Item=ItemData(Index=job.job_index, Value=job.job_input)
        )
        env.states.reset(job.job_input)
        env.stack.append(env.states.get_input())
        self._eval_input(env_frame=env)
        if child is not None:
            child.started(env.states.get_input())
        job.job_program.eval(env)
        outcome, output, error, cause = _ending(env)
    except EvalTimeoutError:
        outcome, error, cause = "timed_out", "States.Timeout", ""
    except FailureEventException as failure:
        details = failure.get_execution_failed_event_details() or {}
        error, cause = details.get("error", "States.Runtime"), details.get("cause", "")
    except Exception as err:  # noqa: BLE001 - an engine error in one iteration fails that iteration, as LocalStack does
        LOG.debug("map run iteration %s failed in the engine: %s", job.job_index, err)
        error, cause = "States.Runtime", f"{type(err).__name__}({err})"
    finally:
        for counter in (record.item_counter, record.execution_counter):
            counter.running.offset(-1)
            getattr(counter, outcome).count()
            if outcome == "succeeded":
                counter.results_written.count()
        if child is not None:
            child.ended(outcome, output, error, cause)
        job.job_output = output


def _ending(env: Any) -> tuple[str, Any, str, str]:
    """(outcome, output, error, cause) of an iteration's program, from its frame's state."""
    from localstack.services.stepfunctions.asl.eval.program_state import (
        ProgramError,
        ProgramStopped,
        ProgramTimedOut,
    )

    state = env.program_state()
    if isinstance(state, ProgramError):
        error = state.error or {}
        return "failed", None, str(error.get("error") or ""), str(error.get("cause") or "")
    if isinstance(state, ProgramStopped):
        return "aborted", None, str(state.error or ""), str(state.cause or "")
    if isinstance(state, ProgramTimedOut):
        return "timed_out", None, "States.Timeout", ""
    return "succeeded", env.states.get_input(), "", ""


def _child_for(record: Any, env: Any) -> Any:
    """The child execution of the iteration that runs in `env` (a job frame), registered in
    the engine's store, its events going to a history of its own; None when the parent
    execution is not in the store (then the iteration runs untraced, as in LocalStack)."""
    from localstack.services.stepfunctions.asl.eval.event.event_manager import EventHistoryContext, EventManager
    from localstack.services.stepfunctions.backend.store import sfn_stores

    details = env.aws_execution_details
    store = sfn_stores[details.account][details.region]
    parent = store.executions.get(record.execution_arn)
    env.event_manager = EventManager()
    env.event_history_context = EventHistoryContext.of_program_start()
    if parent is None:
        return None
    child = _child_class()(parent, record, env)
    store.executions[child.exec_arn] = child
    return child


_CLASS: list[type] = []


def _child_class() -> type:
    """`MapRunChild`, defined once LocalStack's Execution class can be imported."""
    if _CLASS:
        return _CLASS[0]
    from localstack.aws.api.stepfunctions import ExecutionStatus, HistoryEventType
    from localstack.services.stepfunctions.asl.eval.event.event_detail import EventDetails
    from localstack.services.stepfunctions.asl.utils.encoding import to_json_str
    from localstack.services.stepfunctions.backend.execution import Execution
    from localstack.utils.strings import long_uid

    statuses = {
        "succeeded": ExecutionStatus.SUCCEEDED,
        "failed": ExecutionStatus.FAILED,
        "aborted": ExecutionStatus.ABORTED,
        "timed_out": ExecutionStatus.TIMED_OUT,
    }

    class _Worker:
        """What the provider reads of an execution's worker: its environment (the job frame)."""

        def __init__(self, env: Any) -> None:
            self.env = env

        def stop(self, stop_date: datetime.datetime, error: str | None, cause: str | None) -> None:
            self.env.set_stop(stop_date=stop_date, cause=cause, error=error)

    class MapRunChild(Execution):
        """A Distributed Map iteration as a child workflow execution (AWS's ARN form:
        `execution:MACHINE/LABEL:NAME`), listed by its Map Run only."""

        def __init__(self, parent: Any, record: Any, env: Any) -> None:
            name = long_uid()
            run_machine = record.map_state_machine_arn  # MACHINE/LABEL as a state machine ARN
            super().__init__(
                name=name,
                sm_type=parent.sm_type,
                role_arn=parent.role_arn,
                exec_arn=f"{run_machine.replace(':stateMachine:', ':execution:', 1)}:{name}",
                account_id=parent.account_id,
                region_name=parent.region_name,
                state_machine=parent.state_machine,
                start_date=datetime.datetime.now(tz=datetime.UTC),
                cloud_watch_logging_session=None,
                activity_store={},
            )
            self.state_machine_arn = run_machine  # not the parent's: ListExecutions by machine skips it
            self.state_machine_version_arn = None
            self.map_run_arn = record.map_run_arn
            self.exec_worker = _Worker(env)
            self.exec_status = ExecutionStatus.RUNNING

        def started(self, item: Any) -> None:
            self.input_data = item
            env = self.exec_worker.env
            env.event_manager.add_event(
                context=env.event_history_context,
                event_type=HistoryEventType.ExecutionStarted,
                event_details=EventDetails(
                    executionStartedEventDetails={
                        "input": to_json_str(item),
                        "inputDetails": {"truncated": False},
                        "roleArn": self.role_arn,
                    }
                ),
                update_source_event_id=False,
            )

        def ended(self, outcome: str, output: Any, error: str, cause: str) -> None:
            env = self.exec_worker.env
            env.event_history_context.source_event_id = env.event_history_context.last_published_event_id
            if outcome == "succeeded":
                self.output = output
                kind, details = (
                    HistoryEventType.ExecutionSucceeded,
                    {
                        "executionSucceededEventDetails": {
                            "output": to_json_str(output, separators=(",", ":")),
                            "outputDetails": {"truncated": False},
                        }
                    },
                )
            else:
                self.error, self.cause = error or None, cause or None
                names = {
                    "failed": (HistoryEventType.ExecutionFailed, "executionFailedEventDetails"),
                    "aborted": (HistoryEventType.ExecutionAborted, "executionAbortedEventDetails"),
                    "timed_out": (HistoryEventType.ExecutionTimedOut, "executionTimedOutEventDetails"),
                }
                kind, key = names[outcome]
                details = {key: {k: v for k, v in (("error", error), ("cause", cause)) if v}}
            env.event_manager.add_event(
                context=env.event_history_context, event_type=kind, event_details=EventDetails(**details)
            )
            self.stop_date = datetime.datetime.now(tz=datetime.UTC)
            self.exec_status = statuses[outcome]

        def to_describe_output(self) -> Any:
            described = super().to_describe_output()
            described["mapRunArn"] = self.map_run_arn
            return described

        def to_execution_list_item(self) -> Any:
            item = super().to_execution_list_item()
            item["mapRunArn"] = self.map_run_arn
            item["itemCount"] = 1  # one item per child: this engine has no ItemBatcher
            return item

        def publish_execution_status_change_event(self) -> None:
            """Child executions send no status change events to EventBridge here."""

    _CLASS.append(MapRunChild)
    return MapRunChild


def _patch_provider(module: ModuleType) -> None:
    """ListExecutions by `mapRunArn`; execution ARNs of child executions accepted."""
    import re

    from localstack.aws.api import CommonServiceException
    from localstack.aws.api.stepfunctions import ListExecutionsOutput, ResourceNotFound

    provider = module.StepFunctionsProvider
    provider._STATE_MACHINE_EXECUTION_ARN_REGEX = re.compile(_EXECUTION_ARN)
    original = provider.list_executions

    def list_executions(
        self: Any,
        context: Any,
        state_machine_arn: str | None = None,
        status_filter: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        map_run_arn: str | None = None,
        redrive_filter: Any = None,
        **kwargs: Any,
    ) -> Any:
        if not map_run_arn:
            return original(
                self, context, state_machine_arn, status_filter, max_results, next_token, map_run_arn, redrive_filter
            )
        if state_machine_arn:
            raise CommonServiceException(
                message="Only one of stateMachineArn or mapRunArn can be given", code="ValidationException"
            )
        module.assert_pagination_parameters_valid(
            max_results=max_results, next_token=next_token, next_token_length_limit=3096
        )
        store = self.get_store(context)
        executions = list(store.executions.values())
        if not any(_holds_run(execution, map_run_arn) for execution in executions):
            raise ResourceNotFound(f"Map Run Does Not Exist: '{map_run_arn}'")
        children = [
            execution.to_execution_list_item()
            for execution in executions
            if getattr(execution, "map_run_arn", None) == map_run_arn
            and (not status_filter or execution.exec_status == status_filter)
        ]
        children.sort(key=lambda item: item["startDate"], reverse=True)
        page, token = module.PaginatedList(children).get_page(
            token_generator=lambda item: module.get_next_page_token_from_arn(item.get("executionArn")),
            page_size=module.normalise_max_results(max_results),
            next_token=next_token,
        )
        return ListExecutionsOutput(executions=page, nextToken=token)

    provider.list_executions = list_executions
    LOG.debug("distributed map runs keep their child executions")


def _holds_run(execution: Any, map_run_arn: str) -> bool:
    worker = getattr(execution, "exec_worker", None)
    env = getattr(worker, "env", None)
    return env is not None and env.map_run_record_pool_manager.get(map_run_arn) is not None
