"""`make workflows-check`: declarations against the snapshot; each change named with its effect."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from devtools.workflows_check import SNAPSHOT, compare, main, snapshot_of
from shared.engine import registry
from tests.helpers.engine_support import Recorder
from tests.helpers.versions_support import Noted, Text, deployed


def _snapshot() -> dict[str, Any]:
    snapshot: dict[str, Any] = json.loads(SNAPSHOT.read_text())
    return snapshot


def test_the_committed_snapshot_records_todays_declarations():
    assert compare(_snapshot(), registry.all_workflows()) == []


def test_a_breaking_output_change_is_named_with_its_effect_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    recorder = Recorder()
    snapshot = tmp_path / "versions.json"
    snapshot.write_text(json.dumps(snapshot_of([deployed(recorder)])))

    assert main(["--snapshot", str(snapshot)], [deployed(recorder, save_output=Text)]) == 1

    out = capsys.readouterr().out
    assert "[BREAKS] save: output model changed; old checkpoints do not validate" in out
    assert "workflow changed: step save's output no longer fits" in out
    assert "make workflows-snapshot" in out


def test_each_kind_of_change_is_told_with_what_runs_in_flight_do():
    recorder = Recorder()
    before = snapshot_of([deployed(recorder)])

    changes = compare(
        before, [deployed(recorder, rename_draft=True, add_review=True, draft_output=Text)]
    )

    told = {c.what: c for c in changes}
    assert "step compose added" in told
    assert "step review added" in told
    assert "step draft removed" in told
    assert not any(c.breaks for c in changes)
    assert "runs it after those later steps" in told["step review added"].effect


def test_an_output_change_old_checkpoints_still_fit_is_safe():
    recorder = Recorder()

    changes = compare(snapshot_of([deployed(recorder)]), [deployed(recorder, save_output=Noted)])

    assert [(c.what, c.breaks) for c in changes] == [("save: output model changed", False)]
    assert changes[0].effect == "old checkpoints still validate: reused"


def test_an_output_change_of_a_step_that_writes_nothing_reruns_it():
    recorder = Recorder()

    changes = compare(snapshot_of([deployed(recorder)]), [deployed(recorder, draft_output=Text)])

    assert len(changes) == 1
    assert not changes[0].breaks
    assert "run it again" in changes[0].effect


def test_a_removed_workflow_breaks_its_runs_in_flight():
    recorder = Recorder()
    before = copy.deepcopy(snapshot_of([deployed(recorder)]))

    changes = compare(before, [])

    assert [(c.what, c.breaks) for c in changes] == [("workflow removed", True)]


def test_update_writes_a_snapshot_the_check_then_accepts(tmp_path: Path):
    snapshot = tmp_path / "versions.json"

    assert main(["--snapshot", str(snapshot), "--update"]) == 0

    assert main(["--snapshot", str(snapshot)]) == 0
    assert json.loads(snapshot.read_text()) == _snapshot()
