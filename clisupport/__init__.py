"""What the shells' commands share (``stella``, ``stella-bundler``, ``stella-verify``,
``stella-agent``): errors to messages and exit codes in one place, process exit, JSON
output and progress bars.

Not part of the pure core: this package holds click, rich and process handling, and
imports ``kit`` only. Every shell may import it; it imports no shell (docs/adr/0006).
"""

from __future__ import annotations

from clisupport.errors import fail, handle_errors
from clisupport.main import LazyGroup, run_main
from clisupport.output import byte_progress, emit_json, human_size, step_progress
from clisupport.params import Seconds

__all__ = ["LazyGroup", "Seconds", "byte_progress", "emit_json", "fail", "handle_errors", "human_size", "run_main",
           "step_progress"]
