"""``stella token``: API tokens for scripts (docs/service.md "Accounts")."""

from __future__ import annotations

import datetime as dt

import click

from appliance.accounts import tokens
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from clisupport import emit_json, handle_errors
from kit.gates.freeze import parse_duration
from kit.timeutil import now

PROG = "stella token"


@click.group("token")
def token() -> None:
    """API tokens (Authorization: Bearer …), each bound to a user and its roles; admin only."""


@token.command("create")
@click.option("--user", "user", required=True, help="The user the token acts as.")
@click.option("--expires", default="90d", show_default=True, help="Lifetime (e.g. 90d, 12h), or 'never'.")
@as_option
@home_option
@json_option
def create(user: str, expires: str, as_user: str | None, home: str | None, as_json: bool) -> None:
    """Create a token for USER and print it once (it is stored hashed)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        lifetime = None if expires == "never" else dt.timedelta(seconds=parse_duration(expires))
        new = tokens.create(db, user, lifetime, as_user)
        if as_json:
            emit_json({**new.info.to_dict(now()), "token": new.token})
            return
        click.echo(new.token)
        click.echo(f"token {new.info.id} for {new.info.user}, expires {new.info.expires or 'never'} "
                   "(shown once: store it now)", err=True)


@token.command("list")
@as_option
@home_option
@json_option
def list_(as_user: str | None, home: str | None, as_json: bool) -> None:
    """Every token: id, user, state, expiry, last use (never the secret)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        found = tokens.listing(db, as_user)
        moment = now()
        if as_json:
            emit_json([t.to_dict(moment) for t in found])
            return
        for t in found:
            click.echo(f"{t.id}  {t.user:<16} {t.state(moment):<8} expires {t.expires or 'never':<20} "
                       f"last used {t.last_used or 'never'}")


@token.command("revoke")
@click.argument("ident", metavar="ID")
@as_option
@home_option
def revoke(ident: str, as_user: str | None, home: str | None) -> None:
    """Revoke the token ID (it is refused from now on)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        info = tokens.revoke(db, ident, as_user)
        click.echo(f"token {info.id} of {info.user}: revoked {info.revoked}")
