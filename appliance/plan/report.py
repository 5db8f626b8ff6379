"""A plan as lines of text: what ``stella plan`` prints and the console's plan page shows."""

from __future__ import annotations

from collections.abc import Iterator

from appliance.plan.service import Plan
from kit.diff import lines as diff_lines

SHOW = 20         # findings listed per promotion before "… and N more"


def report(p: Plan) -> Iterator[str]:
    o = p.outcome
    what = "would import it" if o.status == "imported" else "already imported: nothing would change"
    yield (f"plan for {p.kit.name}: kit {o.kit_id[:19]}… {o.name}/{o.channel} #{o.sequence} ({o.kind}) verified "
           f"({len(o.checks)} checks passed); {what}; nothing was changed")
    yield from diff_lines(p.diff)
    for w in o.workflows:      # templates the kit carries (docs/workflows.md "From a kit")
        if w["status"] == "skipped":
            yield f"workflow {w['warning']}"
        else:
            yield f"workflow {w['environment']}: {w['name']} {w['digest']} would be {w['status']}"
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
