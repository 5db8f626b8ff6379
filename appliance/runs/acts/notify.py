"""``notify``: an entry in the appliance's outbox, written with the step's end (one
transaction, keyed by the attempt: a re-run after a crash writes it once).

A ``webhook`` names one the admin allowed (``STELLA_WEBHOOKS``: name=url pairs, loopback or
addresses the site allows); delivery is recorded on the entry, and a webhook not allowed
fails the step without sending anything.
"""

from __future__ import annotations

import json
import os
import urllib.request

from appliance.runs.acts.base import Context, Done, Failed, Outcome
from kit import canonical
from kit.timeutil import format_time


def allowed_webhooks() -> dict[str, str]:
    pairs = [p for p in os.environ.get("STELLA_WEBHOOKS", "").split(",") if "=" in p]
    return {name.strip(): url.strip() for name, _, url in (p.partition("=") for p in pairs)}


def _deliver(url: str, doc: dict[str, object]) -> str:
    req = urllib.request.Request(url, data=canonical.dumps(doc), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:      # noqa: S310 (an admin-allowed address)
            return f"HTTP {resp.status}"
    except OSError as exc:
        return f"not delivered: {exc}"


def act(ctx: Context) -> Outcome:
    message = str(ctx.settings["message"])
    severity = str(ctx.settings.get("severity", "info"))
    webhook = ctx.settings.get("webhook")
    delivery = None
    if webhook is not None:
        url = allowed_webhooks().get(str(webhook))
        if url is None:
            return Failed(f"webhook {webhook!r} is not one the admin allowed (STELLA_WEBHOOKS)")
        delivery = _deliver(url, {"run": ctx.run.id, "step": ctx.step.id, "severity": severity, "message": message,
                                  "promotion": ctx.run.promotion_id, "release": ctx.run.release,
                                  "environment": ctx.run.environment})
    when = format_time(ctx.now)

    def write(db: object) -> None:
        ctx.db.execute("INSERT OR IGNORE INTO outbox (idem_key, run_id, step, severity, message, webhook, created_at, "
                       "delivered_at, delivery) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [ctx.key, ctx.run.id, ctx.step.id, severity, message, webhook, when,
                        when if delivery and delivery.startswith("HTTP") else None,
                        json.dumps(delivery) if delivery else None])

    return Done({"outbox": ctx.key}, f"{severity}: {message}", write)
