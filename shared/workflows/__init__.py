"""Importing this package registers every workflow with the engine."""

from shared.workflows import brainstorm, programme, project

__all__ = ["brainstorm", "programme", "project"]
