"""The default template: today's fixed path — gates, then approvals, then deploy.

An environment with no template of its own runs this one. Its settings are left out on
purpose: the gate step evaluates every gate, the approval step takes its role, count and
separation of duties from the environment's configuration, the deploy step deploys to all
of the environment's targets at once (docs/promotions.md, docs/deploy.md).
"""

from __future__ import annotations

from typing import Any

from kit.workflow.load import from_doc
from kit.workflow.model import SCHEMA, Template

DOCUMENT: dict[str, Any] = {
    "schema": SCHEMA,
    "name": "default",
    "description": "gates, then the environment's approvals, then deploy to every target at once",
    "steps": [
        {"id": "gates", "uses": "gate"},
        {"id": "approval", "uses": "approval", "needs": ["gates"]},
        {"id": "deploy", "uses": "deploy", "needs": ["approval"], "with": {"strategy": "all-at-once"}},
    ],
}


def default_template() -> Template:
    return from_doc(DOCUMENT, "the default workflow")
