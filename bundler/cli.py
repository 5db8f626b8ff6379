"""``stella-bundler``: build, sign and inspect kits on the connected side.

Subcommands live in ``bundler/commands/`` (one module per concept).
"""

from __future__ import annotations

import click

from kit import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stella-bundler")
def cli() -> None:
    """Stella Ops bundler: describe a release in kit.yaml, get one signed offline kit."""


def _register() -> None:
    from bundler.commands import COMMANDS
    from bundler.commands.build import build
    from bundler.commands.inspect import inspect
    from bundler.commands.keys import keygen
    from bundler.commands.trust import trust

    for command in [keygen, trust, build, inspect, *COMMANDS]:
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="stella-bundler")
