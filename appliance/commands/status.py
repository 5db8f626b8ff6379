"""``stella status``: advisory staleness per source, last import, disk use, unfinished deployments."""

from __future__ import annotations

import click

from appliance.commands.opening import opened
from appliance.commands.options import home_option, json_option
from appliance.status import summary
from clisupport import emit_json, handle_errors, human_size
from kit.timeutil import now


@click.command("status")
@home_option
@json_option
def status(home: str | None, as_json: bool) -> None:
    """How fresh the appliance's knowledge is, and how much disk it uses."""
    with handle_errors("stella status"), opened(home, read_only=True) as (h, db):
        doc = summary(h, db, now())
        if as_json:
            emit_json(doc)
            return
        click.echo(f"home {doc['home']}")
        last = doc["lastImport"]
        click.echo(f"last import: {last['name']} seq {last['sequence']} ({last['channel']}) at "
                   f"{last['importedAt']} by {last['actor']}" if last else "last import: never")
        for c in doc["channels"]:
            click.echo(f"channel {c['channel']}: active sequence {c['activeSequence']} ({c['kits']} kits)")
        for a in doc["advisories"] or [{"source": "(none)", "newest": "-", "ageDays": "-", "documents": 0}]:
            click.echo(f"advisories {a['source']}: newest {a['newest']} ({a['ageDays']} days old, "
                       f"{a['documents']} records or files)")
        root = doc["trustRoot"]
        if root:
            click.echo(f"trust root: version {root['version']}, expires {root['expires']}")
        d = doc["disk"]
        click.echo(f"disk: {human_size(d['total'])} total; blobs {human_size(d['blobs'])} "
                   f"({doc['contentStore']['blobs']} blobs), database {human_size(d['database'])}, "
                   f"registry {human_size(d['registry'])}, quarantine {human_size(d['quarantine'])} "
                   f"({doc['quarantined']} kits)")
        for bad in doc["failingDeployed"]:
            click.echo(f"ATTENTION {bad['release']} deployed in {bad['environment']} ({bad['promotion']}) now fails "
                       f"the policy gate: {bad['reason']}")
        for u in doc["unfinishedDeployments"]:
            if u["ownerAlive"]:
                click.echo(f"deploying {u['deployment']} {u['release']} → {u['environment']} ({u['promotion']}) "
                           f"by {u['deployer']} since {u['startedAt']} (pid {u['pid']})")
            else:
                click.echo(f"UNFINISHED deployment {u['deployment']} {u['release']} → {u['environment']} "
                           f"({u['promotion']}) by {u['deployer']} since {u['startedAt']}: its process "
                           f"{'(pid ' + u['pid'] + ') ' if u['pid'] else ''}died; run `stella deploy --resume`")
