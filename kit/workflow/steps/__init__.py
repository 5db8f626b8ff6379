"""The registry of step types: one module per type, each exporting ``TYPE`` (a StepType).

A new type is one module in this package; it is found by its file (sorted by name).
"""

from __future__ import annotations

import importlib
import pkgutil

from kit.workflow.steps.base import StepType


def _discover() -> dict[str, StepType]:
    found: dict[str, StepType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "base":
            continue
        declared = getattr(importlib.import_module(f"{__name__}.{info.name}"), "TYPE", None)
        if isinstance(declared, StepType):
            found[declared.name] = declared
    return found


REGISTRY: dict[str, StepType] = _discover()

__all__ = ["REGISTRY", "StepType"]
