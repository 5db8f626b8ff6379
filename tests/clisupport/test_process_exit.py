"""The console scripts end without interpreter teardown (clisupport.run_main), yet keep
what a normal exit promises: the exit code, every byte written to a pipe, atexit handlers
and non-daemon threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _script(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    header = ("import atexit, sys, threading, time\nimport click\nfrom clisupport import run_main\n\n"
              "@click.command()\n@click.argument('what')\ndef cli(what):\n")
    code = header + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n\nrun_main(cli, 'probe')\n"
    path = tmp_path / "probe.py"
    path.write_text(code)
    return subprocess.run([sys.executable, str(path), "go"], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)


def test_large_output_to_a_pipe_arrives_whole(tmp_path: Path) -> None:
    done = _script(tmp_path, """
        for i in range(20000):
            click.echo(f"line {i}")
        """)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "line 19999"
    assert len(done.stdout.splitlines()) == 20000


def test_exit_codes_and_messages_are_kept(tmp_path: Path) -> None:
    assert _script(tmp_path, "sys.exit(3)").returncode == 3
    done = _script(tmp_path, 'sys.exit("no such thing")')
    assert done.returncode == 1 and done.stderr.strip() == "no such thing"
    assert _script(tmp_path, 'raise click.UsageError("bad")').returncode == 2


def test_atexit_handlers_and_threads_finish(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    done = _script(tmp_path, f"""
        atexit.register(lambda: open({str(marker)!r}, "a").write("atexit\\n"))
        def late():
            time.sleep(0.3)
            open({str(marker)!r}, "a").write("thread\\n")
        threading.Thread(target=late).start()
        """)
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "thread\natexit\n"


def test_the_real_commands_keep_exit_codes_and_output() -> None:
    version = subprocess.run([str(BIN / "stella"), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("stella, version ")
    unknown = subprocess.run([str(BIN / "stella-verify"), "nosuch"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "No such command" in unknown.stderr
    listing = subprocess.run([str(BIN / "stella-bundler"), "--help"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and "build" in listing.stdout
