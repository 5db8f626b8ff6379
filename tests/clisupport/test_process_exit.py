"""The console scripts end without interpreter teardown (clisupport.run_main), yet keep
what a normal exit promises: the exit code, every byte written to a pipe, atexit handlers
and non-daemon threads."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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


# --- issue 17, principle 11: the commands behave like command-line tools ---------------------

def _spawn(tmp_path: Path, body: str) -> subprocess.Popen[str]:
    header = ("import sys, time\nimport click\nfrom clisupport import handle_errors, run_main\n\n"
              "@click.command()\n@click.argument('what')\ndef cli(what):\n")
    path = tmp_path / "probe.py"
    code = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    path.write_text(f"{header}{code}\n\nrun_main(cli, 'probe')\n")
    return subprocess.Popen([sys.executable, str(path), "go"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.parametrize("argv", [["stella", "import"], ["stella-verify", "kit"], ["stella-verify", "nosuch"],
                                  ["stella-bundler", "build", "--bogus"], ["stella", "import", "k", "--wait", "nan"],
                                  ["stella", "import", "k", "--wait", "-5"], ["stella", "import", "k", "--wait", "inf"],
                                  ["stella", "registry", "seed", "--wait", "soon"]],
                         ids=lambda a: " ".join(a))
def test_a_usage_error_is_one_line_exit_2(argv: list[str]) -> None:
    done = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"{argv[0]}: error: usage: ") and "--help" in done.stderr


def test_a_usage_error_names_the_bad_value() -> None:
    done = subprocess.run([str(BIN / "stella"), "import", "k", "--wait", "nan"], capture_output=True, text=True,
                          timeout=60)
    assert "'--wait'" in done.stderr and "'nan'" in done.stderr


@pytest.mark.parametrize("how", ["click.echo", "handle_errors"])
def test_a_closed_pipe_ends_quietly_with_141(tmp_path: Path, how: str) -> None:
    body = ("for i in range(200000):\n    click.echo(f'line {i}')" if how == "click.echo" else
            "with handle_errors('probe'):\n    for i in range(200000):\n        sys.stdout.write(f'line {i}\\n')")
    proc = _spawn(tmp_path, body)
    assert proc.stdout is not None and proc.stdout.readline() == "line 0\n"
    proc.stdout.close()                                    # what `| head -1` does after one line
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 141
    assert err == ""


def test_ctrl_c_exits_130_after_cleaning_up(tmp_path: Path) -> None:
    marker = tmp_path / "finally"
    proc = _spawn(tmp_path, f"""
        try:
            print("ready", flush=True)
            time.sleep(60)
        finally:
            open({str(marker)!r}, "w").write("ran")
        """)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "probe: interrupted" and marker.read_text() == "ran"


def test_sigterm_exits_143_after_cleaning_up(tmp_path: Path) -> None:
    marker = tmp_path / "finally"
    proc = _spawn(tmp_path, f"""
        try:
            print("ready", flush=True)
            time.sleep(60)
        finally:
            open({str(marker)!r}, "w").write("ran")
        """)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM          # ended by the signal (143 in a shell), cleaned up
    assert err.strip() == "probe: terminated" and marker.read_text() == "ran"


@pytest.mark.parametrize("argv", [["stella", "trust", "update", "/nonexistent/root.json"],
                                  ["stella-bundler", "trust", "show", "/nonexistent/root.json"],
                                  ["stella-bundler", "build", "/nonexistent/kit.yaml", "--key", "/tmp"],
                                  ["stella-verify", "kit", "/nonexistent/site.stella-kit", "--trust", "/x.json"]],
                         ids=lambda a: " ".join(a[:2]))
def test_a_missing_file_is_exit_4_whichever_layer_notices(argv: list[str]) -> None:
    done = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 4, done.stderr
    assert done.stderr.count("\n") == 1 and "io-error" in done.stderr and "/nonexistent/" in done.stderr
