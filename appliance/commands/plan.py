"""``stella plan KIT``: what importing KIT would change, before anyone imports it (docs/appliance.md)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from appliance.commands.options import home_option, json_option
from appliance.home import resolve_home
from appliance.plan.service import Plan, plan_kit
from clisupport import Seconds, emit_json, handle_errors
from kit import exitcodes
from kit.diff import lines as diff_lines

PROG = "stella plan"
SHOW = 20         # findings listed per promotion before "… and N more"


@click.command("plan")
@home_option
@click.argument("kit", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wait", type=Seconds(), default=0.0, show_default=True,
              help="Seconds to wait for a running import before failing (exit 5).")
@json_option
def plan(home: str | None, kit: Path, wait: float, as_json: bool) -> None:
    """Verify KIT exactly as `stella import` would and show what importing it would change.

    Nothing on the appliance changes: the import runs on a scratch copy. Shown: the diff
    between what the appliance holds before and after, and for every pending promotion and
    current deployment the findings that would appear or disappear (VEX applied) and the
    gate verdicts that would change. Exit 0 when no verdict changes, 1 when one would (or
    the kit is refused), 3/4/5 as for import.
    """
    with handle_errors(PROG):
        result = plan_kit(resolve_home(home), kit, wait=wait)
    if as_json:
        emit_json(result.to_dict())
    else:
        for line in report(result):
            click.echo(line)
    sys.exit(exitcodes.REFUSED if result.verdicts_change else exitcodes.OK)


def report(p: Plan) -> Iterator[str]:
    o = p.outcome
    what = "would import it" if o.status == "imported" else "already imported: nothing would change"
    yield (f"plan for {p.kit.name}: kit {o.kit_id[:19]}… {o.name}/{o.channel} #{o.sequence} ({o.kind}) verified "
           f"({len(o.checks)} checks passed); {what}; nothing was changed")
    yield from diff_lines(p.diff)
    root = p.trust_root
    yield f"appliance trust root: version {root['version']}, expires {root['expires']}"
    changing = [i for i in p.impacts if i.changes_verdict]
    yield f"promotions: {len(p.impacts)} pending or deployed, {len(changing)} verdict(s) would change"
    for i in p.impacts:
        if not (i.changes_verdict or i.appear or i.disappear):
            continue
        pr = i.promotion
        yield f"  {pr.id} {pr.release} in {pr.environment} ({pr.state}): {i.verdict[0]} -> {i.verdict[1]}"
        for g in i.gates:
            yield f"      gate {g['gate']}: {g['before']} -> {g['after']}: {g['reason']}"
        for sign, found in (("+", i.appear), ("-", i.disappear)):
            for f in found[:SHOW]:
                yield f"      {sign} {f['id']} {f['purl']} ({f['severity']})"
            if len(found) > SHOW:
                yield f"      … and {len(found) - SHOW} more"
