"""``stella run list | show | logs | resume | cancel``: workflow runs (docs/workflows.md "Runs")."""

from __future__ import annotations

import json
import sys

import click

from appliance import users
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from appliance.runs import cancelling, engine, report, store
from appliance.runs.errors import RunFinished
from clisupport import emit_json, handle_errors

PROG = "stella run"


@click.group("run")
def run() -> None:
    """Workflow runs: one per promotion, of its environment's template."""


@run.command("list")
@click.option("--state", type=click.Choice(["running", "succeeded", "failed", "cancelled"]), default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@home_option
@json_option
def list_(state: str | None, limit: int, home: str | None, as_json: bool) -> None:
    """The newest runs first."""
    with handle_errors(f"{PROG} list"), opened(home) as (_h, db):
        runs = store.listing(db, "WHERE state = ?" if state else "", [state] if state else [], limit)
        if as_json:
            emit_json([r.to_dict() for r in runs])
            return
        for r in runs:
            click.echo(f"{r.id}  {r.promotion_id}  {r.release} → {r.environment}  {r.template_name}  {r.state}")
        if not runs:
            click.echo("no runs")


@run.command("show")
@click.argument("run_id", metavar="RUN-ID")
@home_option
@json_option
def show(run_id: str, home: str | None, as_json: bool) -> None:
    """Every step: state, attempt, started/finished, outputs, what it waits for, log tail."""
    with handle_errors(f"{PROG} show"), opened(home) as (h, db):
        doc = report.show(h, db, run_id)
        if as_json:
            emit_json(doc)
            return
        r = doc["run"]
        click.echo(f"{r['id']} {r['release']} → {r['environment']} ({r['promotion']}): {r['state']}"
                   f"{' (cancelled: ' + str(r['cancelReason']) + ')' if r['cancelled'] else ''}")
        click.echo(f"  template {r['template']['name']} {r['template']['digest']}")
        for s in doc["steps"]:
            when = f"{s['startedAt'] or '-'} → {s['finishedAt'] or '…' if s['startedAt'] else '-'}"
            click.echo(f"  {s['id']:<16} {s['uses']:<9} {s['status']:<10} attempt {s['attempt']}  {when}")
            if s["message"]:
                click.echo(f"    {s['message']}")
            if s["outputs"]:
                shown = ", ".join(f"{k}={_short(v)}" for k, v in sorted(s["outputs"].items()))
                click.echo(f"    outputs: {shown}")
            for line in s["logTail"].splitlines()[-5:]:
                click.echo(f"    | {line}")


def _short(value: object, width: int = 60) -> str:
    """One output on one line: JSON, cut at *width* characters (the whole is in --json)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= width else text[:width - 1] + "…"


@run.command("logs")
@click.argument("run_id", metavar="RUN-ID")
@click.argument("step")
@click.option("--attempt", type=int, default=None, help="Which attempt (default: the latest).")
@home_option
def logs(run_id: str, step: str, attempt: int | None, home: str | None) -> None:
    """The whole log of STEP (as kept: a script's output is capped at its logLimit)."""
    with handle_errors(f"{PROG} logs"), opened(home) as (h, db):
        rows = store.steps(db, store.get(db, run_id).id)
        if step not in rows:
            raise click.UsageError(f"run {run_id} has no step {step!r} (steps: {', '.join(sorted(rows))})")
        n = attempt or rows[step].attempt
        path = engine.log_path(h, run_id, step, n)
        if path.is_file():
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 16), b""):
                    sys.stdout.buffer.write(chunk)
            sys.stdout.flush()


@run.command("resume")
@click.argument("run_id", metavar="RUN-ID", required=False)
@click.option("--no-wait", is_flag=True, help="Do not sleep through soaks and retries: advance once.")
@as_option
@home_option
@json_option
def resume(run_id: str | None, no_wait: bool, as_user: str | None, home: str | None, as_json: bool) -> None:
    """Advance RUN-ID (or every unfinished run) after a crash or a wait: finished steps never
    run again; a step found running is re-attached, inspected or re-run as its type allows.
    Acting as a deployer (--as) also lets a run deploy."""
    with handle_errors(f"{PROG} resume"), opened(home) as (h, db):
        actor = users.acting(db, as_user)
        how = engine.Advance(actor.name, actor if actor.has("deployer") else None, block=not no_wait)
        ids = [run_id] if run_id else store.unfinished(db)
        if run_id and store.get(db, run_id).finished:
            raise RunFinished(f"run {run_id} has ended ({store.get(db, run_id).state})")
        done = [engine.advance(h, db, i, how) for i in ids]
        if as_json:
            emit_json([r.to_dict() for r in done])
            return
        for r in done:
            waits = [f"{n}: {row.message}" for n, row in store.steps(db, r.id).items()
                     if row.status == "running" and row.message]
            click.echo(f"{r.id}: {r.state}{' — waiting: ' + '; '.join(waits) if waits else ''}")
        if not done:
            click.echo("no unfinished run")


@run.command("cancel")
@click.argument("run_id", metavar="RUN-ID")
@click.option("--reason", required=True)
@as_option
@home_option
def cancel(run_id: str, reason: str, as_user: str | None, home: str | None) -> None:
    """Cancel a run and its promotion (its requester or an admin); running steps stop,
    steps meant for cancellation (if: cancelled() / always()) run."""
    with handle_errors(f"{PROG} cancel"), opened(home) as (h, db):
        r = store.get(db, run_id)
        if r.finished:
            raise RunFinished(f"run {run_id} has ended ({r.state})")
        cancelling.cancel(h, db, r, users.acting(db, as_user), reason)
        click.echo(f"{run_id}: {store.get(db, run_id).state}")
