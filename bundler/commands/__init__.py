"""The ``stella-bundler`` subcommands, one module per concept; each exports its click command."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

from bundler.commands.sbom import sbom  # noqa: E402  (import after COMMANDS exists)

COMMANDS.append(sbom)
