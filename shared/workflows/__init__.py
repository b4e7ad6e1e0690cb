"""Importing this package registers every workflow with the engine."""

from shared.workflows import brainstorm, ops, programme, project

__all__ = ["brainstorm", "ops", "programme", "project"]
