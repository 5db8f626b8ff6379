"""``stella agent``: registration tokens, the registered agents, revocation (docs/agent-protocol.md)."""

from __future__ import annotations

import datetime as dt

import click

from appliance.agents import service, tokens
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from clisupport import emit_json, handle_errors
from kit.gates.freeze import parse_duration
from kit.timeutil import now

PROG = "stella agent"


@click.group("agent")
def agent() -> None:
    """Agents on other hosts: one-time registration tokens, listing, revocation."""


@agent.group("token")
def token() -> None:
    """One-time registration tokens (admin only)."""


@token.command("create")
@click.option("--labels", default="", metavar="K=V,…", help="Labels the agent registered with it gets.")
@click.option("--ttl", default="15m", show_default=True, help="How long the token can be used (1m to 24h).")
@as_option
@home_option
@json_option
def token_create(labels: str, ttl: str, as_user: str | None, home: str | None, as_json: bool) -> None:
    """Create a one-time registration token and print it once (it is stored hashed)."""
    with handle_errors(PROG), opened(home) as (h, db):
        parsed = tokens.parse_labels(labels)
        new = tokens.create(db, h, parsed, dt.timedelta(seconds=parse_duration(ttl)), as_user)
        if as_json:
            emit_json({**new.info.to_dict(now()), "token": new.token, "caFingerprint": new.ca_fingerprint})
            return
        click.echo(new.token)
        shown = ",".join(f"{k}={v}" for k, v in new.info.labels.items()) or "none"
        click.echo(f"token {new.info.id}: labels {shown}, usable once until {new.info.expires} "
                   f"(shown once: store it now)", err=True)
        click.echo(f"agent CA {new.ca_fingerprint} (stella-agent register --ca-fingerprint)", err=True)


@token.command("list")
@as_option
@home_option
@json_option
def token_list(as_user: str | None, home: str | None, as_json: bool) -> None:
    """Every registration token: id, labels, state (unused/used/expired), expiry (never the secret)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        found, moment = tokens.listing(db, as_user), now()
        if as_json:
            emit_json([t.to_dict(moment) for t in found])
            return
        for t in found:
            labels = ",".join(f"{k}={v}" for k, v in t.labels.items()) or "-"
            click.echo(f"{t.id}  {t.state(moment):<8} expires {t.expires}  {labels}"
                       + (f"  used by {t.used_by}" if t.used_by else ""))


@agent.command("list")
@as_option
@home_option
@json_option
def list_(as_user: str | None, home: str | None, as_json: bool) -> None:
    """Every agent: name, state (new/ready/down/revoked), labels, capabilities, last heartbeat."""
    with handle_errors(PROG), opened(home, read_only=True) as (_h, db):
        found, moment = service.listing(db, as_user), now()
        if as_json:
            emit_json([a.to_dict(moment) for a in found])
            return
        for a in found:
            labels = ",".join(f"{k}={v}" for k, v in a.labels.items()) or "-"
            click.echo(f"{a.name:<20} {a.state(moment):<8} {labels:<30} {','.join(a.capabilities) or '-':<20} "
                       f"last heartbeat {a.last_seen or 'never'}")


@agent.command("revoke")
@click.argument("name")
@click.option("--reason", required=True, help="Why (one line, kept in the audit log).")
@as_option
@home_option
def revoke(name: str, reason: str, as_user: str | None, home: str | None) -> None:
    """Revoke the agent NAME: its client certificate is refused from its next call on."""
    with handle_errors(PROG), opened(home) as (_h, db):
        info = service.revoke(db, name, reason, as_user)
        click.echo(f"agent {info.name}: revoked {info.revoked_at} by {info.revoked_by}")
