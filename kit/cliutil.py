"""What the three commands share: errors to exit codes in one place, JSON output, progress.

Library code raises; only this module turns errors into a one-line message on stderr and
a stable exit code (docs/cli.md).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

import click

from kit import exitcodes
from kit.errors import KitError, KitFormatError, KitIOError, KitVerificationError


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use.

    *lazy* maps a command name to ``(module, attribute)``: ``stella import`` then pays
    neither for Docker, HTTP, Rego nor the SBOM libraries at start-up.
    """

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.lazy, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            import importlib
            module, attribute = self.lazy[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command) and command.name == cmd_name, (cmd_name, command)
            self.add_command(command)
        return self.commands.get(cmd_name)


def run_main(command: click.Command, prog_name: str) -> NoReturn:
    """Run a console script's command and end the process without interpreter teardown.

    Tearing down the modules a command imported (Docker SDK, crypto, SQLite helpers) takes
    40–60 ms at every exit, 3 % of a deploy, for memory the OS frees anyway. What a normal
    exit guarantees is kept: non-daemon threads are joined, atexit handlers (temporary
    directories, process pools, open clients) run, and stdout/stderr are flushed.
    """
    try:
        command.main(prog_name=prog_name)
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)   # sys.exit("message") semantics
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):   # a closed pipe must not turn success into a traceback
            stream.flush()
    os._exit(code)


def exit_code_for(error: KitError) -> int:
    conflict = getattr(error, "exit_code", None)
    if isinstance(conflict, int):
        return conflict
    if isinstance(error, KitVerificationError):
        return exitcodes.REFUSED
    if isinstance(error, KitFormatError):
        return exitcodes.MALFORMED
    if isinstance(error, KitIOError):
        return exitcodes.IO_ERROR
    return exitcodes.IO_ERROR


def fail(error: KitError, prog: str) -> NoReturn:
    click.echo(f"{prog}: error: {error.one_line()}", err=True)
    sys.exit(exit_code_for(error))


@contextlib.contextmanager
def handle_errors(prog: str) -> Iterator[None]:
    """Run a command body; turn KitError (and stray I/O errors) into message + exit code."""
    try:
        yield
    except KitError as exc:
        fail(exc, prog)
    except OSError as exc:
        name = getattr(exc, "filename", None)
        where = f" ({name})" if name else ""
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


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@contextlib.contextmanager
def byte_progress(description: str, total: int | None, enabled: bool) -> Iterator[Any]:
    """A rich progress bar on stderr when it is a terminal; yields ``advance(n)``."""
    if not enabled or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)
    from rich.console import Console
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                  transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.update(task, advance=n)


@contextlib.contextmanager
def step_progress(description: str, total: int, enabled: bool) -> Iterator[Any]:
    """A counting progress bar on stderr (a terminal only); yields ``step(label)``."""
    if not enabled or not sys.stderr.isatty():
        yield lambda label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda label: bar.update(task, advance=1, description=label)
