"""The options many ``stella`` subcommands share: ``--home``, ``--json``, ``--as USER``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def home_option(func: F) -> F:
    return click.option("--home", "home", type=click.Path(file_okay=False), default=None,
                        help="Appliance home (default: $STELLA_HOME, else /var/lib/stella).")(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)


def as_option(func: F) -> F:
    return click.option("--as", "as_user", metavar="USER", default=None,
                        help="Act as USER (default: $STELLA_USER).")(func)
