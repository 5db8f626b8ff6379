"""``stella``: the appliance command on the isolated side.

Subcommands live in ``appliance/commands/`` (one module per concept) and are
registered here; error-to-exit-code mapping happens in one place (``kit.cliutil``).
"""

from __future__ import annotations

import click

from kit import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stella")
def cli() -> None:
    """Stella Ops appliance: import kits, find vulnerabilities, promote and deploy releases."""


def _register() -> None:
    from appliance.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="stella")
