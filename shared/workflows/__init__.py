"""Importing this package registers every workflow with the engine."""

from shared.workflows import brainstorm

__all__ = ["brainstorm"]
