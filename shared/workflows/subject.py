"""How every workflow here marks its subject document (a session, a programme, an operation).

The engine sets these fields when a run fails, is cancelled or resumes; the
workflow's last step sets the COMPLETED status itself, with its results.
"""

from __future__ import annotations

from shared.engine import SubjectFields
from shared.models.common import GenerationStatus

GENERATION_SUBJECT = SubjectFields(
    status="generationStatus",
    error="error",
    updated_at="updatedAt",
    in_progress=GenerationStatus.IN_PROGRESS.value,
)
