"""Structures: the shipped library of competing phases, and reading users' own files."""
from sseflow.workflows.structures.library import get_structure, list_phases, phases, read_structure

__all__ = ["get_structure", "list_phases", "phases", "read_structure"]
