"""``stella promote``, ``approve``, ``reject`` and ``stella promotion …`` (docs/promotions.md)."""

from __future__ import annotations

from typing import Any

import click

from appliance import users
from appliance.commands.gate_output import echo_gates
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from appliance.promotions import service, store
from appliance.promotions.service import GatesBlocked, Outcome
from clisupport import emit_json, handle_errors

PROG = "stella"


def _report(out: Outcome, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    p = out.promotion
    if as_json:
        emit_json({**service.outcome_dict(out), **(extra or {})})
        return
    click.echo(f"{p.id} {p.release} → {p.environment}: {p.state} (decision {out.record[:23]}…)")
    echo_gates(out.decision)




@click.command("promote")
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--to", "env_name", required=True, help="Target environment.")
@click.option("--reason", required=True)
@as_option
@home_option
@json_option
def promote(ref: str, env_name: str, reason: str, as_user: str | None, home: str | None, as_json: bool) -> None:
    """Request a promotion; gates are evaluated now and anything blocking is named."""
    with handle_errors(f"{PROG} promote"), opened(home) as (h, db):
        actor = users.acting(db, as_user)
        try:
            out = service.promote(h, db, ref, env_name, reason, actor)
        except GatesBlocked as exc:
            echo_gates(exc.decision, err=True)
            raise
        _report(out, as_json)


@click.command("approve")
@click.argument("promotion_id", metavar="PROMOTION-ID")
@click.option("--comment", default=None)
@as_option
@home_option
@json_option
def approve(promotion_id: str, comment: str | None, as_user: str | None, home: str | None, as_json: bool) -> None:
    """Approve a promotion awaiting approval (the environment's approver role).

    When this approval makes it approved and the environment has auto-deploy on, the
    deploy runs at once as the environment's deploy identity; the exit code is the
    approval's (0), the deploy's outcome is printed (docs/deploy.md "Auto-deploy")."""
    from appliance.deploy import auto
    with handle_errors(f"{PROG} approve"), opened(home) as (h, db):
        out, deployed = auto.approve(h, db, promotion_id, users.acting(db, as_user), comment)
        _report(out, as_json, {"autoDeploy": deployed.to_dict() if deployed else None} if as_json else None)
        if deployed is not None and not as_json:
            _echo_auto(deployed)


def _echo_auto(result: Any) -> None:
    if not result.started:
        if result.decision is not None:
            click.echo(f"auto-deploy as {result.deploy_as}: the gates re-checked with the deployer known", err=True)
            echo_gates(result.decision, err=True)
        click.echo(f"{PROG} approve: warning: auto-deploy not started ({result.refused_kind}): {result.refused}; "
                   f"{result.promotion} stays approved (deploy it: stella deploy {result.promotion} --as DEPLOYER)",
                   err=True)
        return
    from appliance.commands.deploy import echo_report
    report = result.report
    click.echo(f"auto-deploy: {report.deployment} started as {result.deploy_as} (auto-deploy is on in "
               f"{result.environment})")
    echo_report(report)
    click.echo(f"auto-deploy: {report.deployment} {'deployed' if report.ok else 'FAILED'}: {report.message}")


@click.command("reject")
@click.argument("promotion_id", metavar="PROMOTION-ID")
@click.option("--comment", required=True)
@as_option
@home_option
@json_option
def reject(promotion_id: str, comment: str, as_user: str | None, home: str | None, as_json: bool) -> None:
    """Reject a pending promotion (final)."""
    with handle_errors(f"{PROG} reject"), opened(home) as (h, db):
        _report(service.reject(h, db, promotion_id, users.acting(db, as_user), comment), as_json)


@click.group("promotion")
def promotion() -> None:
    """Inspect and manage promotions."""


@promotion.command("show")
@click.argument("promotion_id", metavar="PROMOTION-ID")
@home_option
@json_option
def show(promotion_id: str, home: str | None, as_json: bool) -> None:
    """State, each gate with verdict and trace, approvals, history."""
    with handle_errors(f"{PROG} promotion show"), opened(home) as (_h, db):
        doc = service.show(db, promotion_id)
        if as_json:
            emit_json(doc)
            return
        p, record = doc["promotion"], doc["record"]
        click.echo(f"{p['id']} {p['release']} → {p['environment']}: {p['state']}")
        click.echo(f"  requested by {p['requester']} at {p['createdAt']}: {p['reason']}")
        if record is not None:
            click.echo(f"  decision {doc['decision']} at {record['evaluatedAt']}: {record['verdict']}")
            echo_gates(record)
        for a in doc["approvals"]:
            click.echo(f"  {a['decision']} by {a['user']} at {a['at']}{': ' + a['comment'] if a['comment'] else ''}")
        for hline in doc["history"]:
            click.echo(f"  {hline['at']} {hline['actor']}: {hline['from'] or '-'} → {hline['to']} ({hline['note']})")


@promotion.command("list")
@click.option("--state", default=None)
@home_option
@json_option
def list_(state: str | None, home: str | None, as_json: bool) -> None:
    """Every promotion (optionally in one state)."""
    with handle_errors(f"{PROG} promotion list"), opened(home) as (_h, db):
        found = store.listing(db, "WHERE state = ?", [state]) if state else store.listing(db)
        if as_json:
            emit_json([p.to_dict() for p in found])
            return
        for p in found:
            click.echo(f"{p.id} {p.release:<28} → {p.environment:<8} {p.state:<18} by {p.requester} {p.created_at}")


@promotion.command("evaluate")
@click.argument("promotion_id", metavar="PROMOTION-ID")
@as_option
@home_option
@json_option
def evaluate(promotion_id: str, as_user: str | None, home: str | None, as_json: bool) -> None:
    """Evaluate the gates again (after a freeze ends or a soak time passes)."""
    with handle_errors(f"{PROG} promotion evaluate"), opened(home) as (h, db):
        _report(service.recheck(h, db, promotion_id, users.acting(db, as_user)), as_json)


@promotion.command("cancel")
@click.argument("promotion_id", metavar="PROMOTION-ID")
@click.option("--reason", default="")
@as_option
@home_option
def cancel(promotion_id: str, reason: str, as_user: str | None, home: str | None) -> None:
    """Cancel a pending promotion (its requester or an admin)."""
    with handle_errors(f"{PROG} promotion cancel"), opened(home) as (h, db):
        p = service.cancel(db, promotion_id, users.acting(db, as_user), reason, home=h)
        click.echo(f"{p.id}: {p.state}")


@promotion.command("mark-deployed")
@click.argument("promotion_id", metavar="PROMOTION-ID")
@click.option("--note", default="deployed by hand")
@as_option
@home_option
def mark_deployed(promotion_id: str, note: str, as_user: str | None, home: str | None) -> None:
    """Record a deployment done by other means, on a host the appliance does not manage (deployer role);
    `stella deploy` is the normal path."""
    with handle_errors(f"{PROG} promotion mark-deployed"), opened(home) as (h, db):
        try:
            p = service.mark_deployed(h, db, promotion_id, users.acting(db, as_user), note)
        except GatesBlocked as exc:
            echo_gates(exc.decision, err=True)
            raise
        click.echo(f"{p.id} {p.release} → {p.environment}: {p.state}")
