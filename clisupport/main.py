"""Console scripts: subcommands imported on first use, and an exit without teardown."""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import sys
import threading
from typing import Any, NoReturn

import click

from kit import exitcodes
from kit.errors import MAX_LINE, BadUsage, cut


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


INTERRUPTED = 130      # 128 + SIGINT: what a shell reports for Ctrl-C
TERMINATED = 143       # 128 + SIGTERM
CLOSED_PIPE = 141      # 128 + SIGPIPE: what ``cmd | head`` reports when head stops reading


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so ``finally`` blocks remove partial files."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)      # a second SIGTERM ends the process at once
    raise Terminated


def run_main(command: click.Command, prog_name: str) -> NoReturn:
    """Run a console script's command and end the process without interpreter teardown.

    The process behaves like a command-line tool (docs/cli.md "Exit codes"): a usage error
    is one line (``PROG: error: usage: …``, exit 2), Ctrl-C exits 130 and SIGTERM ends the
    process by that signal (status 143 in a shell) after ``finally`` blocks ran (no partial
    file is left), and output into a pipe whose reader has gone (``| head``) ends quietly
    with 141, as a process killed by SIGPIPE would.

    Tearing down the modules a command imported (Docker SDK, crypto, SQLite helpers) takes
    40–60 ms at every exit, 3 % of a deploy, for memory the OS frees anyway. What a normal
    exit guarantees is kept: non-daemon threads are joined, atexit handlers (temporary
    directories, process pools, open clients) run, and stdout/stderr are flushed.
    """
    with contextlib.suppress(ValueError):              # not the main thread (tests): keep the default
        signal.signal(signal.SIGTERM, _on_sigterm)
    code = _exit_code(command, prog_name)
    try:
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Terminated:                 # SIGTERM while threads or atexit handlers finished
        code = TERMINATED
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            code = CLOSED_PIPE if stream is sys.stdout and code == 0 else code
        except Exception:  # noqa: BLE001,S110 - a closed stream must not turn the exit into a traceback
            pass
    if code == TERMINATED:
        # end by the signal itself, cleaned up: the shell shows 143 and a service manager
        # (systemd: SIGTERM is a clean stop) sees the stop it asked for, not a failure
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    os._exit(code)


def _exit_code(command: click.Command, prog: str) -> int:
    """Run *command* (click's non-standalone mode) and turn how it ended into an exit code."""
    try:
        try:
            result = command.main(prog_name=prog, standalone_mode=False)
        except click.exceptions.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):
                raise KeyboardInterrupt from None
            _say(prog, "error: aborted")                  # e.g. end of input at a prompt
            return 1
        except click.UsageError as exc:
            return _usage(exc, prog)
        except click.ClickException as exc:
            _say(prog, f"error: {'io-error' if isinstance(exc, click.FileError) else 'usage'}: "
                       f"{exc.format_message()}")
            return exitcodes.IO_ERROR if isinstance(exc, click.FileError) else exitcodes.USAGE
        except SystemExit as exc:
            code = _system_exit_code(exc.code)
            # click ends with exit 1 when its own echo met EPIPE; a command may have met it too
            return _closed_pipe() if code == 1 and stdout_closed() else code
    except KeyboardInterrupt:
        _say(prog, "interrupted")
        return INTERRUPTED
    except Terminated:
        _say(prog, "terminated")
        return TERMINATED
    except BrokenPipeError:
        return _closed_pipe()
    if stdout_closed():             # click swallows EPIPE from its own echo and returns; say so
        return _closed_pipe()
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _usage(exc: click.UsageError, prog: str) -> int:
    where = exc.ctx.command_path if exc.ctx is not None else prog
    text = cut(exc.format_message().replace("\n", " "), MAX_LINE)
    if isinstance(exc, click.BadParameter) and exc.param is not None and isinstance(exc.param.type, click.Path) \
            and "does not exist" in text:
        _say(prog, f"error: io-error: {text}")     # a missing file is an I/O error (exit 4), as everywhere
        return exitcodes.IO_ERROR
    _say(prog, f"error: {BadUsage.kind}: {text} (see '{where} --help')")
    return BadUsage.exit_code


def _system_exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)   # sys.exit("message") semantics
    return 1


def _say(prog: str, text: str) -> None:
    with contextlib.suppress(Exception):
        print(f"{prog}: {text}", file=sys.stderr, flush=True)


def stdout_closed() -> bool:
    """True when stdout is a pipe or socket whose reader has gone (writing would raise EPIPE)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _closed_pipe() -> int:
    """Stop writing to a stdout nobody reads, quietly, with the status of a closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return CLOSED_PIPE
