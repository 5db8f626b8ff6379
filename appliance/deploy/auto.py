"""Auto-deploy on approval (``stella target settings ENV --auto-deploy --deploy-as USER``).

When an approval moves a promotion to ``approved`` in an environment with auto-deploy
on, the deploy runs at once — the same :func:`appliance.deploy.run.deploy` as ``stella
deploy`` (deploy lock, preflight, gates re-checked with the deployer known, health-gated
rollout, rollback on failure) — acting as the environment's configured deploy identity.

The approval stands whatever happens to the deploy: a deploy that cannot start (the
deploy-as user approved it under separation of duties, an engine is down, another deploy
runs) leaves the promotion ``approved`` with the reason; a deploy that fails ends
``failed`` with every target rolled back, exactly as a manual one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlite_utils

from appliance import environments, users
from appliance.deploy import targets
from appliance.home import Home
from appliance.promotions import service, states, store
from kit.errors import StellaError

if TYPE_CHECKING:
    from appliance.deploy.outcome import Report
    from kit.gates import Decision


@dataclass
class AutoDeploy:
    """What auto-deploy did after an approval: started (with its report) or not (why)."""

    promotion: str
    environment: str
    deploy_as: str | None
    report: Report | None = None
    refused_kind: str | None = None
    refused: str | None = None
    decision: Decision | None = None          # the blocking decision when a gate refused it

    @property
    def started(self) -> bool:
        return self.report is not None

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "deployAs": self.deploy_as, "started": self.started,
                "refused": {"kind": self.refused_kind, "message": self.refused} if self.refused else None,
                "deployment": self.report.to_dict() if self.report else None}


def approve(home: Home, db: sqlite_utils.Database, promotion_id: str, actor: users.User, comment: str | None,
            at: dt.datetime | None = None) -> tuple[service.Outcome, AutoDeploy | None]:
    """``service.approve``, then the deploy when this approval made the promotion approved
    and its environment deploys automatically (None when no deploy was due)."""
    before = store.get(db, promotion_id).state
    outcome = service.approve(home, db, promotion_id, actor, comment, at)
    if before == states.APPROVED or outcome.promotion.state != states.APPROVED:
        return outcome, None
    return outcome, run_for(home, db, outcome.promotion.id, actor.name)


def run_for(home: Home, db: sqlite_utils.Database, promotion_id: str, approver: str) -> AutoDeploy | None:
    """Deploy *promotion_id* as its environment's deploy-as user, if auto-deploy is on."""
    p = store.get(db, promotion_id)
    settings = targets.settings(db, p.environment)
    if not settings.auto_deploy:
        return None
    result = AutoDeploy(p.id, p.environment, settings.deploy_as)
    if settings.deploy_as is None:
        result.refused_kind, result.refused = "no-deploy-as", (
            f"auto-deploy is on in {p.environment} but no deploy identity is set "
            f"(stella target settings {p.environment} --deploy-as USER)")
        return result
    from appliance.runs import deploying  # docker, compose, the registry client: only when deploying
    try:
        deployer = users.get(db, settings.deploy_as)
        result.report = deploying.deploy(home, db, p.id, deployer, trigger={"auto": True, "approvedBy": approver})
    except service.GatesBlocked as exc:
        result.refused_kind, result.refused, result.decision = exc.kind, _blocked(db, p, deployer, exc), exc.decision
    except StellaError as exc:
        result.refused_kind, result.refused = exc.kind, exc.message
    return result


def _blocked(db: sqlite_utils.Database, p: store.Promotion, deployer: users.User, exc: service.GatesBlocked) -> str:
    approved = db.execute("SELECT 1 FROM approvals WHERE promotion_id = ? AND user = ? AND decision = 'approve'",
                          [p.id, deployer.name]).fetchone()
    if approved and environments.get(db, p.environment).separation_of_duties:
        return (f"{deployer.name} approved {p.id} and cannot also deploy it (separation of duties): "
                f"{exc.message}")
    return exc.message
