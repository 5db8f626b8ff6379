"""``stella audit verify | log``: the hash-chained audit log."""

from __future__ import annotations

import sys

import click

from appliance import audit as audit_log
from appliance.commands.opening import opened
from appliance.commands.options import home_option, json_option
from clisupport import emit_json, handle_errors
from kit import exitcodes


@click.group("audit")
def audit() -> None:
    """The append-only audit log."""


@audit.command("verify")
@home_option
@json_option
def verify(home: str | None, as_json: bool) -> None:
    """Walk the hash chain; name every edited, deleted or reordered event (exit 1 if any)."""
    with handle_errors("stella audit verify"), opened(home, read_only=True) as (_h, db):
        report = audit_log.verification(db)
        problems = report["problems"]
        if as_json:
            emit_json(report)
        elif problems:
            for p in problems:
                click.echo(f"stella audit verify: {p['kind']}: {p['message']}", err=True)
        else:
            click.echo(f"audit log intact: {report['events']} events, head {report['head'][:16]}…")
        if problems:
            sys.exit(exitcodes.REFUSED)


@audit.command("log")
@home_option
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
def log(home: str | None, limit: int, as_json: bool) -> None:
    """The latest events."""
    with handle_errors("stella audit log"), opened(home, read_only=True) as (_h, db):
        events = audit_log.events(db, limit)
        if as_json:
            emit_json([e.to_dict() for e in events])
            return
        for e in events:
            click.echo(f"{e.seq:>6} {e.time} {e.actor:<12} {e.action:<16} {e.details}")
