"""The ``stella`` subcommands, one module per concept; each module exports its click command."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
