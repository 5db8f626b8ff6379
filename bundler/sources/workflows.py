"""kit.yaml's ``workflows:`` → ``workflows/<environment>.workflow.yaml`` entries.

Each template is read once through the bounded reader (at most ``yamlio.MAX_BYTES``; a FIFO
or device is never opened), validated with ``kit.workflow.load`` — the appliance's own
loader — and carried as the very bytes that were checked (comments kept; the file is named
too, so a file that changes during the build fails it). A template with problems fails the
build here, naming the file and the problem's path, instead of failing after the air gap.
"""

from __future__ import annotations

import os
from pathlib import Path

from bundler import tree
from kit.errors import InvalidWorkflow
from kit.format import EntrySource
from kit.inputfile import read_file
from kit.workflow import carried, yamlio
from kit.workflow.load import load


def workflow_entries(workflows: tuple[tuple[str, Path], ...], home: Path) -> list[EntrySource]:
    """One entry per (environment, template file), in environment order.

    Raises:
        InvalidWorkflow: a template has problems (exit 3; every one in ``problems``).
        SpecError: a template file is missing, a link out of *home* (kit.yaml's folder) or not a
            regular file.
        SpecialFile / InputTooLarge: read_file's refusals (exit 3), naming the file.
    """
    out = []
    for environment, path in workflows:
        file = tree.regular_file(path, home, f"workflows.{environment}")
        data = read_file(file, "workflow template", limit=yamlio.MAX_BYTES)
        rel = os.path.relpath(file, home)
        try:
            load(data, f"workflows.{environment}: {rel}")
        except InvalidWorkflow as exc:
            raise InvalidWorkflow(exc.message, problems=exc.problems, entry=rel) from None
        out.append(EntrySource(carried.entry_path(environment), carried.MEDIA_TYPE, data=data, file=file))
    return out
