"""``stella deploy PROMOTION-ID`` and ``stella deploy --resume`` (docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path

import click

from appliance import users
from appliance.commands.gate_output import echo_gates
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from appliance.deploy import outcome, recovery
from appliance.deploy.errors import DeployFailed
from appliance.promotions.service import GatesBlocked
from appliance.runs import deploying
from appliance.store.blobs import BlobStore
from clisupport import emit_json, handle_errors


def echo_report(report: outcome.Report) -> None:
    click.echo(f"{report.deployment} {report.release} → {report.environment}: "
               f"{'deployed' if report.ok else 'failed'} ({report.promotion})")
    for t in report.targets:
        timing = t.get("timingsMs", {})
        click.echo(f"  target {t['target']}: {'ok' if t['ok'] else 'FAILED'}"
                   f"{' in ' + str(timing['total']) + ' ms' if 'total' in timing else ''}"
                   f"{' — ' + t['error'] if t.get('error') else ''}")
        for s in t.get("services", []):
            host = f"[{s['host']}] " if "host" in s else ""     # an agent target: the host (agent)
            click.echo(f"    {host}{s['service']:<16} {s.get('state', '-'):<8} {s.get('health') or '-':<9} "
                       f"{(s.get('digests') or ['-'])[0][:19]}{'' if s['ok'] else '  ' + '; '.join(s['problems'])}")
        back = t.get("rollback")
        if back and back.get("action") != "none":
            what = {"reapplied": f"rolled back to {back.get('release')} ({back.get('deployment')})",
                    "removed": back.get("note", "stack removed"), "left": back.get("note", "left"),
                    "failed": "ROLLBACK FAILED"}.get(back["action"], back["action"])
            click.echo(f"    rollback: {what}{'' if back.get('ok') else ' — NOT healthy: ' + str(back.get('error'))}")
            for h in back.get("hosts") or []:       # an agent target: each host it went back on, or why not
                bad = "" if h.get("ok") else " — " + str(h.get("error"))
                click.echo(f"      host {h['agent']}: {h.get('action')}{bad}"
                           f"{' (deploy ' + h['lease'] + ')' if h.get('lease') else ''}")
    click.echo(f"  evidence: {report.packet_type} packet sha256:{report.packet}")


def _write(home_blobs: Path, report: outcome.Report, out: Path | None) -> None:
    if out is not None and report.packet:
        out.write_bytes(BlobStore(home_blobs).path(report.packet).read_bytes())


@click.command("deploy")
@click.argument("promotion_id", metavar="PROMOTION-ID", required=False)
@click.option("--resume", is_flag=True, help="Only finish (or roll back) a deployment whose process died.")
@click.option("--evidence", "evidence_out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the deployment (or rollback) evidence packet here.")
@as_option
@home_option
@json_option
def deploy(promotion_id: str | None, resume: bool, evidence_out: Path | None, as_user: str | None,
           home: str | None, as_json: bool) -> None:
    """Deploy an approved promotion to every target of its environment, health-gated;
    on failure every target goes back to its previous release (exit 1)."""
    with handle_errors("stella deploy"), opened(home, notice_deploys=False) as (h, db):
        actor = users.acting(db, as_user)
        if resume or promotion_id is None:
            if not resume:
                raise click.UsageError("give a PROMOTION-ID, or --resume")
            with outcome.deploy_lock(h):
                reports = recovery.recover(h, db, actor.name)
            if as_json:
                emit_json([r.to_dict() for r in reports])
            elif not reports:
                click.echo("no unfinished deployment")
            for r in reports:
                if not as_json:
                    echo_report(r)
            return
        try:
            report = deploying.deploy(h, db, promotion_id, actor)
        except GatesBlocked as exc:
            echo_gates(exc.decision, err=True)
            raise
        _write(h.blobs, report, evidence_out)
        if as_json:
            emit_json(report.to_dict())
        else:
            echo_report(report)
        if not report.ok:
            raise DeployFailed(report.message)
