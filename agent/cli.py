"""``stella-agent``: register this host with an appliance, show the registration (docs/agent-protocol.md).

Errors are one line through clisupport, with the exit codes of the other commands
(docs/cli.md): a refused token 1, a bad option 2, a malformed answer 3, an unreachable
appliance 4, an existing registration 5.
"""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import click

from agent import state
from clisupport import emit_json, handle_errors, run_main
from kit import __version__
from kit.timeutil import now, parse_time

PROG = "stella-agent"
DEFAULT_STATE = "/var/lib/stella-agent"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
def cli() -> None:
    """Stella Ops agent: runs on a Docker host, dials out to the appliance (hosts open no port)."""


def _state_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path),
                        default=DEFAULT_STATE, show_default=True, help="The agent's state directory (0700).")(func)


@cli.command("register")
@click.option("--appliance", required=True, metavar="URL", help="The appliance, https://HOST:PORT.")
@click.option("--token", required=True, envvar="STELLA_AGENT_TOKEN", help="The one-time token (stella agent token "
              "create); or $STELLA_AGENT_TOKEN, kept out of the process list.")
@click.option("--ca-fingerprint", required=True, metavar="sha256:HEX",
              help="The agent CA's fingerprint, printed by stella agent token create (pinned; no trust on first use).")
@click.option("--name", default=None, help="This agent's name (default: the host name).")
@click.option("--capability", "capabilities", multiple=True, help="A capability to announce (repeatable).")
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="CA certificate(s) to verify the appliance's HTTPS certificate with (default: the system's).")
@_state_option
def register(appliance: str, token: str, ca_fingerprint: str, name: str | None, capabilities: tuple[str, ...],
             ca_file: Path | None, state_dir: Path) -> None:
    """Register with the appliance: make a key, send a CSR with the token, keep the certificate."""
    from agent.register import register as run
    with handle_errors(f"{PROG} register"):
        got = run(appliance, token, state_dir, name or socket.gethostname().split(".")[0].lower(), ca_fingerprint,
                  capabilities, ca_file)
        click.echo(f"registered {got.name} with {got.appliance} (appliance {got.appliance_id}); "
                   f"certificate valid until {got.certificate_expires}")


@cli.command("status")
@_state_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(state_dir: Path, as_json: bool) -> None:
    """The registration in the state directory: name, appliance, certificate expiry."""
    with handle_errors(f"{PROG} status"):
        got = state.load(state_dir)
        left = parse_time(got.certificate_expires) - now()
        info = {**got.to_dict(), "state": "registered" if left > dt.timedelta(0) else "certificate-expired",
                "certificateDaysLeft": max(left.days, 0)}
        if as_json:
            emit_json(info)
            return
        click.echo(f"{got.name}: {info['state']} with {got.appliance} (appliance {got.appliance_id}); "
                   f"certificate valid until {got.certificate_expires} ({info['certificateDaysLeft']} days)")


@cli.command("run")
@_state_option
@click.option("--appliance", default=None, metavar="URL",
              help="The appliance's agent listener, https://HOST:PORT (default: the URL registered with).")
@click.option("--docker", "docker_url", default="unix:///var/run/docker.sock", show_default=True, metavar="URL",
              help="This host's Docker engine.")
@click.option("--interval", type=click.FloatRange(0.05, 3600), default=10.0, show_default=True,
              envvar="STELLA_AGENT_INTERVAL",
              help="Seconds between heartbeats while a task runs (an idle agent's poll is held by the appliance).")
def run(state_dir: Path, appliance: str | None, docker_url: str, interval: float) -> None:
    """Poll the appliance (the heartbeat), run leased tasks on this host's engine, post their results."""
    from agent.run import Agent
    with handle_errors(f"{PROG} run"):
        Agent(state_dir, appliance, docker_url, interval).run()


def main() -> None:
    run_main(cli, PROG)
