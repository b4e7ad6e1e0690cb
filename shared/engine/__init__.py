"""The durable engine's public API: everything outside `shared.engine` imports from here.

Declaring workflows (`Workflow`, `StepContext`, `SubjectFields`, `registry`),
starting and ending runs (`new_run`, `start_run`, `cancel_run`, `resume_run`,
`fail_dead_lettered`, `sweep`), executing them (`Runner`), reading them
(`run_view`, `progress`, `RunWatcher`), and the interfaces adapters implement
(`RunStore`, `EventPublisher`, `RunIndex`, `RunWatcher`). The modules behind
it are the engine's own business; see docs/architecture.md.
"""

from shared.engine import registry
from shared.engine.delivery import Clock, EngineConfig, Outcome, utcnow
from shared.engine.ledger import COST_DECIMALS, USAGE_COLLECTION, UsageLedger
from shared.engine.lifecycle import cancel_run, fail_dead_lettered, new_run, start_run
from shared.engine.listing import Cursor, RunFilter, RunIndex, RunPage, RunSummary, matches
from shared.engine.meter import StepMeter
from shared.engine.records import (
    Resume,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    SubjectFields,
    TokenUsage,
    Write,
)
from shared.engine.results import OutboxStore, ResultPublisher, RunResult, publish_pending
from shared.engine.resume import RESUMABLE, resume_run
from shared.engine.runner import Runner
from shared.engine.slots import Slot, SlotStore, TenantSlots
from shared.engine.store import EventPublisher, LoadedRun, RunPatch, RunStore
from shared.engine.sweep import SweepReport, sweep
from shared.engine.timeline import RunView, StepView, progress, run_view
from shared.engine.usage import Usage
from shared.engine.watch import OnChange, RunWatcher
from shared.engine.workflow import FanOut, Step, StepContext, Workflow

__all__ = [
    "COST_DECIMALS",
    "RESUMABLE",
    "USAGE_COLLECTION",
    "Clock",
    "Cursor",
    "EngineConfig",
    "EventPublisher",
    "FanOut",
    "LoadedRun",
    "OnChange",
    "OutboxStore",
    "Outcome",
    "ResultPublisher",
    "Resume",
    "RunFilter",
    "RunIndex",
    "RunPage",
    "RunPatch",
    "RunRecord",
    "RunResult",
    "RunStatus",
    "RunStore",
    "RunSummary",
    "RunView",
    "RunWatcher",
    "Runner",
    "Slot",
    "SlotStore",
    "Step",
    "StepContext",
    "StepMeter",
    "StepRecord",
    "StepStatus",
    "StepView",
    "SubjectFields",
    "SweepReport",
    "TenantSlots",
    "TokenUsage",
    "Usage",
    "UsageLedger",
    "Workflow",
    "Write",
    "cancel_run",
    "fail_dead_lettered",
    "matches",
    "new_run",
    "progress",
    "publish_pending",
    "registry",
    "resume_run",
    "run_view",
    "start_run",
    "sweep",
    "utcnow",
]
