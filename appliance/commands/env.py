"""``stella env``: environments, freeze windows, stop-the-line (docs/promotions.md)."""

from __future__ import annotations

import click

from appliance import environments, users
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from appliance.environments import EnvSpec
from clisupport import emit_json, handle_errors
from kit.gates.freeze import active_occurrence, parse_duration
from kit.timeutil import format_time, now

PROG = "stella env"


@click.group("env")
def env() -> None:
    """Ordered environments (dev → stage → prod), freeze windows, stop-the-line."""


@env.command("create")
@click.argument("name")
@click.option("--order", type=click.IntRange(0, 1_000_000), required=True,
              help="Position in the promotion path (lower first).")
@click.option("--requires-approvals", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="N approvals needed.")
@click.option("--approver-role", default="approver", show_default=True)
@click.option("--separation-of-duties", is_flag=True, help="Requester and deployer may not approve.")
@click.option("--soak", default="0s", show_default=True, help="Time in the previous environment, e.g. 24h.")
@click.option("--staleness-budget", default="168h", show_default=True, help="Max advisory snapshot age.")
@click.option("--policy-timeout", default="30s", show_default=True, help="Policy gate time limit (fails closed).")
@as_option
@home_option
def create(name: str, order: int, requires_approvals: int, approver_role: str, separation_of_duties: bool,
           soak: str, staleness_budget: str, policy_timeout: str, as_user: str | None, home: str | None) -> None:
    """Create environment NAME (admin role)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        actor = users.acting(db, as_user, "admin")
        spec = EnvSpec(name, order, requires_approvals, approver_role, separation_of_duties, parse_duration(soak),
                       max(1, parse_duration(staleness_budget) // 3600), max(1, parse_duration(policy_timeout)))
        environments.create(db, spec, actor.name)
        click.echo(f"environment {name} (order {order}): {requires_approvals} approval(s) by {approver_role}"
                   f"{', separation of duties' if separation_of_duties else ''}")


@env.command("list")
@home_option
@json_option
def list_(home: str | None, as_json: bool) -> None:
    """Environments in promotion order, with active freezes."""
    with handle_errors(PROG), opened(home) as (_h, db):
        docs = [environments.config(db, e) for e in environments.ordered(db)]
        if as_json:
            emit_json(docs)
            return
        at = now()
        for d in docs:
            frozen = [w["id"] for w in d["freezeWindows"] if active_occurrence(w, at)]
            click.echo(f"{d['order']:>3} {d['name']:<12} approvals {d['requiredApprovals']} ({d['approverRole']})"
                       f"{' SoD' if d['separationOfDuties'] else ''}  soak {d['soakSeconds']}s  "
                       f"windows {len(d['freezeWindows'])}{'  FROZEN ' + ','.join(frozen) if frozen else ''}")
        stop = docs[0]["stopTheLine"] if docs else environments.stop_state(db)
        if stop:
            click.echo(f"STOP-THE-LINE since {stop['at']} by {stop['by']}: {stop['reason']}")


@env.command("freeze")
@click.argument("name")
@click.option("--rrule", help='RFC 5545 rule, e.g. "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16" (omit for a one-off window).')
@click.option("--start", help="Local start (YYYY-MM-DDTHH:MM:SS in --tz): anchor of the rule or the one-off start.")
@click.option("--duration", required=True, help="Wall-clock length of each occurrence, e.g. 64h.")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--reason", required=True)
@as_option
@home_option
def freeze(name: str, rrule: str | None, start: str | None, duration: str, tz: str, reason: str,
           as_user: str | None, home: str | None) -> None:
    """Add a freeze window to environment NAME (admin role)."""
    if not rrule and not start:
        raise click.UsageError("give --rrule (recurring) or --start (one-off)")
    with handle_errors(PROG), opened(home) as (_h, db):
        ident = environments.freeze(db, name, rrule=rrule, start=start, duration=duration, tz=tz, reason=reason,
                                    actor=users.acting(db, as_user))
        click.echo(f"freeze window {ident} on {name}: {rrule or 'once'} for {duration} ({tz}): {reason}")


@env.command("unfreeze")
@click.argument("window_id", metavar="WINDOW-ID")
@as_option
@home_option
def unfreeze(window_id: str, as_user: str | None, home: str | None) -> None:
    """Remove a freeze window (admin role)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        environments.unfreeze(db, window_id, users.acting(db, as_user))
        click.echo(f"freeze window {window_id} removed")


@env.command("stop-the-line")
@click.option("--reason", required=True)
@as_option
@home_option
def stop_the_line(reason: str, as_user: str | None, home: str | None) -> None:
    """Block every promotion and deployment at once (break-glass; admin role)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        environments.stop_the_line(db, reason, users.acting(db, as_user))
        click.echo(f"line stopped at {format_time(now())}: {reason}")


@env.command("resume")
@click.option("--reason", default=None)
@as_option
@home_option
def resume(reason: str | None, as_user: str | None, home: str | None) -> None:
    """Lift stop-the-line (admin role)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        environments.resume(db, users.acting(db, as_user), reason)
        click.echo("line resumed")
