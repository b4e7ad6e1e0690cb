"""How every workflow here marks its subject document (a session, a programme, an operation).

The engine sets these fields when a run fails, is cancelled or resumes; the
workflow's last step sets the COMPLETED status itself, with its results.
The names are those `Subject` documents store them under.
"""

from __future__ import annotations

from shared.engine import SubjectFields
from shared.models.common import GenerationStatus
from shared.models.documents import Subject

GENERATION_SUBJECT = SubjectFields(
    status=Subject.stored_name("generation_status"),
    error=Subject.stored_name("error"),
    updated_at=Subject.stored_name("updated_at"),
    in_progress=GenerationStatus.IN_PROGRESS.value,
)
