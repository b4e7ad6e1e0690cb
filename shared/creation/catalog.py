"""Every creator of this deployment: importing this module registers them all.

The HTTP routes import the creator each uses; the worker's trigger handler
needs every one (an event may start any workflow), so it imports this.
"""

from __future__ import annotations

from shared.creation.brainstorm import BRAINSTORM
from shared.creation.programme import PROGRAMME
from shared.creation.project import PROJECT

CREATORS = (BRAINSTORM, PROJECT, PROGRAMME)
