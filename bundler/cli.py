"""``stella-bundler``: build, sign and inspect kits on the connected side.

Subcommands live in ``bundler/commands/`` (one module per concept).
"""

from __future__ import annotations

import click

from bundler.commands import LAZY
from clisupport import LazyGroup, run_main
from kit import __version__


@click.group(cls=LazyGroup, lazy=LAZY, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stella-bundler")
def cli() -> None:
    """Stella Ops bundler: describe a release in kit.yaml, get one signed offline kit."""


def main() -> None:
    run_main(cli, "stella-bundler")
