"""The ``stella`` subcommands, one module per concept; each module exports its click command.

``LAZY`` maps each command name to ``(module, attribute)``; ``appliance.cli`` imports a
module only when its command runs (or help lists it), so ``stella import`` does not pay
for Docker, HTTP, Rego or the findings engine at start-up. ``COMMANDS`` (every command,
loaded) stays for callers that want them all.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

LAZY: dict[str, tuple[str, str]] = {
    "findings": ("appliance.commands.findings", "findings"),
    "vex": ("appliance.commands.vex", "vex"),
    "init": ("appliance.commands.init", "init"),
    "key": ("appliance.commands.init", "key"),
    "import": ("appliance.commands.importcmd", "import_"),
    "plan": ("appliance.commands.plan", "plan"),
    "kits": ("appliance.commands.kits", "kits"),
    "trust": ("appliance.commands.trust", "trust"),
    "registry": ("appliance.commands.registry", "registry"),
    "audit": ("appliance.commands.audit", "audit"),
    "status": ("appliance.commands.status", "status"),
    # release orchestration (docs/promotions.md)
    "user": ("appliance.commands.users", "user"),
    "env": ("appliance.commands.env", "env"),
    "release": ("appliance.commands.releases", "release"),
    "promote": ("appliance.commands.promote", "promote"),
    "approve": ("appliance.commands.promote", "approve"),
    "reject": ("appliance.commands.promote", "reject"),
    "promotion": ("appliance.commands.promote", "promotion"),
    "evidence": ("appliance.commands.evidence", "evidence"),
    "reevaluate": ("appliance.commands.reevaluate", "reevaluate"),
    # deploy (docs/deploy.md)
    "target": ("appliance.commands.targets", "target"),
    "deploy": ("appliance.commands.deploy", "deploy"),
    "rollback": ("appliance.commands.rollback", "rollback"),
    "whereis": ("appliance.commands.whereis", "whereis"),
    "drift": ("appliance.commands.drift", "drift"),
    # workflows (docs/workflows.md)
    "workflow": ("appliance.commands.workflow", "workflow"),
    "run": ("appliance.commands.runs", "run"),
    # the service (docs/service.md)
    "serve": ("appliance.commands.serve", "serve"),
    "token": ("appliance.commands.tokens", "token"),
    # agents on other hosts (docs/agent-protocol.md)
    "agent": ("appliance.commands.agents", "agent"),
}


def load(name: str) -> click.Command:
    module, attribute = LAZY[name]
    # Importing a command's modules allocates many objects and none of them is garbage:
    # no collection while importing, then the imported objects are moved to the
    # permanent generation, so later collections and the interpreter's exit do not walk
    # them again (~70 ms of a ``stella deploy`` process; bench/deploy.py).
    # (Only on a module's first import: a process that runs many commands does not keep
    # freezing its garbage.)
    fresh = module not in sys.modules
    enabled = gc.isenabled()
    if fresh:
        gc.disable()
    try:
        command = getattr(importlib.import_module(module), attribute)
    finally:
        if fresh and enabled:
            gc.enable()
    if fresh:
        gc.freeze()
    assert isinstance(command, click.Command) and command.name == name, (name, command)
    return command


def __getattr__(attr: str) -> Any:
    if attr == "COMMANDS":
        return [load(name) for name in LAZY]
    raise AttributeError(attr)
