"""Errors to one line on stderr and a stable exit code (docs/cli.md), in one place.

Library code raises; only this module prints and exits.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import NoReturn

import click

from clisupport.main import stdout_closed
from kit import exitcodes
from kit.errors import MAX_NAME, StellaError, cut


def fail(error: StellaError, prog: str) -> NoReturn:
    """Print *error* as one line and exit with the code its class declares."""
    click.echo(f"{prog}: error: {error.one_line()}", err=True)
    sys.exit(error.exit_code)


@contextlib.contextmanager


def handle_errors(prog: str) -> Iterator[None]:
    """Run a command body; turn a StellaError (and stray I/O errors) into message + exit code."""
    try:
        yield
    except StellaError as exc:
        fail(exc, prog)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) and stdout_closed():
            raise                        # ``| head`` stopped reading: run_main ends quietly (141)
        name = getattr(exc, "filename", None)
        where = f" ({cut(str(name), MAX_NAME)})" if name else ""
        click.echo(f"{prog}: error: io-error: {exc.strerror or exc}{where}", err=True)
        sys.exit(exitcodes.IO_ERROR)
    except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 4, no traceback
        text = str(exc).replace("\n", " ")[:300]
        click.echo(f"{prog}: error: internal: {type(exc).__name__}: {text} "
                   "(please report this; set STELLA_DEBUG=1 for the traceback)", err=True)
        if os.environ.get("STELLA_DEBUG"):
            raise
        sys.exit(exitcodes.IO_ERROR)
