"""``stella``: the appliance command on the isolated side.

Subcommands live in ``appliance/commands/`` (one module per concept) and are loaded on
first use (``appliance.commands.LAZY``), so each command imports only what it needs;
error-to-exit-code mapping happens in one place (``clisupport``).
"""

from __future__ import annotations

import click

from appliance.commands import LAZY
from clisupport import LazyGroup, run_main
from kit import __version__


@click.group(cls=LazyGroup, lazy=LAZY, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stella")
def cli() -> None:
    """Stella Ops appliance: import kits, find vulnerabilities, promote and deploy releases."""


def main() -> None:
    run_main(cli, "stella")
