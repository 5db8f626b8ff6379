"""Workflow templates a kit carries (``workflows/<environment>.workflow.yaml``), on import.

Before the commit every template the kit holds (carried or, for a delta, inherited from its
base) is read from staging or the content store and validated again: the kit verified, but
a hostile or mistaken signer must not hand the executor a template the appliance would
refuse from an admin. One bad template refuses the whole import (``invalid-workflow``,
naming the entry); nothing is committed.

Inside the import's transaction each template is assigned to its environment with origin
``kit`` and the kit's id (``appliance.workflows``, audited ``workflow.set``), so the kit and
the templates it brought land together or not at all. An environment this appliance does
not have is skipped, with a warning in the import report and the ``kit.import`` audit
event; a template already in force from a kit (same digest) is left as it is, so a later
kit carrying the same template does not rewrite the history (docs/workflows.md "From a kit").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance import workflows
from kit.format.manifest import Entry
from kit.workflow import carried, yamlio
from kit.workflow.model import Template

Locate = Callable[[str], Path]


@dataclass(frozen=True)
class CarriedTemplate:
    entry: str
    environment: str
    template: Template
    source: bytes                # the bytes as signed (comments kept), stored beside the digest


def read(entries: Iterable[Entry], locate: Locate) -> list[CarriedTemplate]:
    """Every template among *entries*, validated, in entry order.

    Raises:
        InvalidWorkflow: an entry under ``workflows/`` is badly named or has problems.
    """
    out = []
    for e in sorted(entries, key=lambda e: e.path.encode("utf-8")):
        if not carried.is_workflow_entry(e.path):
            continue
        # an entry over the limit is refused by its size, never read (load_entry)
        data = locate(e.sha256).read_bytes() if e.size <= yamlio.MAX_BYTES else b""
        environment, template = carried.load_entry(e.path, e.size, functools.partial(bytes, data))
        out.append(CarriedTemplate(e.path, environment, template, data))
    return out


def apply(db: sqlite_utils.Database, templates: list[CarriedTemplate], kit_id: str, actor: str,
          when: str) -> list[dict[str, Any]]:
    """Assign each template to its environment; call inside the import's transaction.

    Returns one report row per template: ``status`` ``assigned``, ``unchanged`` (already in
    force from a kit) or ``skipped`` (no such environment; ``warning`` says so).
    """
    report = []
    for t in templates:
        row: dict[str, Any] = {"environment": t.environment, "entry": t.entry, "name": t.template.name,
                               "digest": t.template.digest}
        if db.execute("SELECT 1 FROM environments WHERE name = ?", [t.environment]).fetchone() is None:
            row.update(status="skipped", warning=f"{t.entry}: this appliance has no environment "
                                                 f"{t.environment!r}; template not assigned")
        else:
            current = workflows.in_force(db, t.environment)
            if current.origin == "kit" and current.template.digest == t.template.digest:
                row.update(status="unchanged", kitId=current.origin_ref)
            else:
                workflows.record_assignment(db, t.environment, t.template, origin="kit", ref=kit_id,
                                            source=t.source, actor=actor, when=when, previous=current)
                row.update(status="assigned", previous=current.template.digest)
        report.append(row)
    return report
