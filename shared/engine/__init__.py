"""The durable engine's public API: everything outside `shared.engine` imports from here.

`Engine` is the engine: built once from `EngineSettings` and its adapters,
with the verbs that change runs as methods (`start`, `cancel`, `resume`,
`deliver`, `signal`, `sweep`, `dead_lettered`). Beside it: declaring workflows
(`Workflow`, `StepContext`, `SubjectFields`, `registry`), reading runs
(`run_view`, `progress`, `RunIndex`, `RunWatcher`), and the interfaces
adapters implement (`RunStore`, `SlotStore`, `EventPublisher`,
`ResultPublisher`, `PendingResults`, `SweepHeartbeat`, `RunIndex`,
`RunWatcher`). `shared.engine.testing` is the kit for testing workflows on
it. The modules behind it are the engine's own business; see
docs/architecture.md.
"""

from shared.engine.delivery import Clock, Outcome, utcnow
from shared.engine.engine import CANCELLED_ON_REQUEST, Engine
from shared.engine.known_workflows import registry
from shared.engine.ledger import COST_DECIMALS, USAGE_COLLECTION, USAGE_SHARDS, UsageLedger
from shared.engine.listing import Cursor, RunFilter, RunIndex, RunPage, RunSummary, matches
from shared.engine.live import (
    LiveEntry,
    LiveItems,
    LiveStore,
    current_items,
    live_entries,
    live_path,
    visible,
)
from shared.engine.meter import MAX_REPAIRS, StepMeter
from shared.engine.records import (
    INLINE_OUTPUT_BYTES,
    MAX_COMMIT_BYTES,
    MAX_FAILED_MODELS,
    MAX_OUTPUT_BYTES,
    RUN_OUTPUTS_BUDGET,
    AttemptRecord,
    FailedModel,
    ModelCall,
    ModelTokens,
    Resume,
    RunRecord,
    RunSource,
    RunStatus,
    StepRecord,
    StepStatus,
    SubjectFields,
    TokenUsage,
    WaitState,
    Write,
    checkpoint_bytes,
)
from shared.engine.rerun import RerunPlan
from shared.engine.results import (
    OutboxStore,
    PendingResults,
    ResultPublisher,
    RunResult,
)
from shared.engine.resume import RESUMABLE
from shared.engine.settings import EngineSettings
from shared.engine.slots import RunsAndSlots, Slot, SlotStore
from shared.engine.store import EventPublisher, LoadedRun, RunPatch, RunStore
from shared.engine.sweep import SweepHeartbeat, SweepReport
from shared.engine.timeline import Progress, RunView, StepView, progress, run_view
from shared.engine.usage import DailyUsage, ModelUsage, Usage
from shared.engine.versions import declaration, version_of_declaration
from shared.engine.watch import OnChange, RunWatcher
from shared.engine.workflow import FanOut, NoSignal, Slept, Step, StepContext, Wait, Workflow

__all__ = [
    "CANCELLED_ON_REQUEST",
    "COST_DECIMALS",
    "INLINE_OUTPUT_BYTES",
    "MAX_COMMIT_BYTES",
    "MAX_FAILED_MODELS",
    "MAX_OUTPUT_BYTES",
    "MAX_REPAIRS",
    "RESUMABLE",
    "RUN_OUTPUTS_BUDGET",
    "USAGE_COLLECTION",
    "USAGE_SHARDS",
    "AttemptRecord",
    "Clock",
    "Cursor",
    "DailyUsage",
    "Engine",
    "EngineSettings",
    "EventPublisher",
    "FailedModel",
    "FanOut",
    "LiveEntry",
    "LiveItems",
    "LiveStore",
    "LoadedRun",
    "ModelCall",
    "ModelTokens",
    "ModelUsage",
    "NoSignal",
    "OnChange",
    "OutboxStore",
    "Outcome",
    "PendingResults",
    "Progress",
    "RerunPlan",
    "ResultPublisher",
    "Resume",
    "RunFilter",
    "RunIndex",
    "RunPage",
    "RunPatch",
    "RunRecord",
    "RunResult",
    "RunSource",
    "RunStatus",
    "RunStore",
    "RunSummary",
    "RunView",
    "RunWatcher",
    "RunsAndSlots",
    "Slept",
    "Slot",
    "SlotStore",
    "Step",
    "StepContext",
    "StepMeter",
    "StepRecord",
    "StepStatus",
    "StepView",
    "SubjectFields",
    "SweepHeartbeat",
    "SweepReport",
    "TokenUsage",
    "Usage",
    "UsageLedger",
    "Wait",
    "WaitState",
    "Workflow",
    "Write",
    "checkpoint_bytes",
    "current_items",
    "declaration",
    "live_entries",
    "live_path",
    "matches",
    "progress",
    "registry",
    "run_view",
    "utcnow",
    "version_of_declaration",
    "visible",
]
