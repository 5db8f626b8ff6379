"""The ``stella`` subcommands, one module per concept; each module exports its click command."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

from appliance.commands.findings import findings  # noqa: E402
from appliance.commands.vex import vex  # noqa: E402

COMMANDS.extend([findings, vex])

from appliance.commands.audit import audit  # noqa: E402
from appliance.commands.importcmd import import_  # noqa: E402
from appliance.commands.init import init, key  # noqa: E402
from appliance.commands.kits import kits  # noqa: E402
from appliance.commands.registry import registry  # noqa: E402
from appliance.commands.status import status  # noqa: E402
from appliance.commands.trust import trust  # noqa: E402

COMMANDS.extend([init, key, import_, kits, trust, registry, audit, status])
