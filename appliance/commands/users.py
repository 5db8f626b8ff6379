"""``stella user``: identities and roles (docs/promotions.md "Users")."""

from __future__ import annotations

import sys

import click

from appliance import users
from appliance.accounts import passwords
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from clisupport import emit_json, handle_errors

PROG = "stella user"


@click.group("user")
def user() -> None:
    """Users and their roles (requester, approver, deployer, admin, auditor)."""


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(users.ROLES),
              help="Role to grant (repeatable).")
@as_option
@home_option
def add(name: str, roles: tuple[str, ...], as_user: str | None, home: str | None) -> None:
    """Add NAME (or grant it more roles). The first user needs no --as (bootstrap)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        u = users.add(db, name, roles, as_user)
        click.echo(f"user {u.name}: {', '.join(u.roles)}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (no prompt).")
@as_option
@home_option
def passwd(name: str, password_stdin: bool, as_user: str | None, home: str | None) -> None:
    """Set NAME's console password (an admin, or NAME themself); NAME's sessions end."""
    with handle_errors(PROG), opened(home) as (_h, db):
        users.acting(db, as_user)           # who acts is known before anything is asked
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt(f"new console password for {name}", hide_input=True,
                                    confirmation_prompt=True)
        revoked = passwords.set_password(db, name, password, as_user)
        click.echo(f"user {name}: console password set ({revoked} session(s) ended)")


@user.command("list")
@home_option
@json_option
def list_(home: str | None, as_json: bool) -> None:
    """Every user and their roles."""
    with handle_errors(PROG), opened(home) as (_h, db):
        found = users.listing(db)
        if as_json:
            emit_json([{"name": u.name, "roles": list(u.roles)} for u in found])
            return
        for u in found:
            click.echo(f"{u.name:<20} {', '.join(u.roles)}")
