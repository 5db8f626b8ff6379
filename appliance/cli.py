"""``stella``: the appliance command on the isolated side.

Subcommands live in ``appliance/commands/`` (one module per concept) and are loaded on
first use (``appliance.commands.LAZY``), so each command imports only what it needs;
error-to-exit-code mapping happens in one place (``kit.cliutil``).
"""

from __future__ import annotations

import click

from kit import __version__


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        from appliance.commands import LAZY

        return sorted({*LAZY, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from appliance.commands import LAZY, load

        if cmd_name not in self.commands and cmd_name in LAZY:
            self.add_command(load(cmd_name))
        return self.commands.get(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stella")
def cli() -> None:
    """Stella Ops appliance: import kits, find vulnerabilities, promote and deploy releases."""


def main() -> None:
    cli(prog_name="stella")
