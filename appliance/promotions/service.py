"""Promotions: request, approve, reject, cancel, re-check, and the deploy hooks (issue 7).

Each public function takes the DB, does its checks, evaluates the gates through
``kit.gates.decide`` on inputs built from the DB, and commits the transition, the
decision record and the audit events in ONE transaction — or raises and changes
nothing. Deploy (docs/promotions.md "API for deploy") uses :func:`start_deployment`
(approved → deploying, gates re-checked with the deployer known) and
:func:`finish_deployment` (deploying → deployed | failed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import audit, environments, releases, users
from appliance.home import Home
from appliance.promotions import inputs as gate_inputs, states, store
from appliance.promotions.errors import (
    AlreadyApproved,
    BadTransition,
    DuplicatePromotion,
    MissingRole,
    NoComment,
    NoReason,
    OrchestrationRefused,
    SeparationOfDuties,
    UnknownDeployment,
)
from appliance.promotions.store import Promotion
from appliance.runs import engine as runs
from appliance.store.db import transaction
from kit import canonical
from kit.errors import StellaError
from kit.gates import Decision, decide
from kit.gates.approvals import NAME as APPROVALS
from kit.timeutil import format_time, now


@dataclass(frozen=True)
class Outcome:
    promotion: Promotion
    decision: Decision
    record: str                       # digest of the stored decision record


class GatesBlocked(OrchestrationRefused):
    """A gate other than approvals fails: the operation is refused (exit 1)."""

    kind = "blocked"

    def __init__(self, message: str, decision: Decision):
        super().__init__(message)
        self.decision = decision


def _blocked_message(what: str, decision: Decision, ignore: tuple[str, ...] = ()) -> str:
    reasons = [f"{g.name}: {g.reason}" for g in decision.gates if g.blocks and g.name not in ignore]
    return f"{what} refused — " + "; ".join(reasons)


def _evaluate(home: Home, db: sqlite_utils.Database, p: Promotion, at: dt.datetime,
              deployer: str | None = None, pack: str | None = None) -> tuple[Decision, dict[str, Any]]:
    rel = releases.resolve(db, p.release)
    env = environments.get(db, p.environment)
    promo = {"id": p.id, "requester": p.requester, "reason": p.reason}
    docs = gate_inputs.build(home, db, promotion=promo, rel=rel, env=env, at=at, deployer=deployer, pack=pack)
    return decide(docs), docs


def evaluate(home: Home, db: sqlite_utils.Database, p: Promotion, at: dt.datetime,
             pack: str | None = None) -> tuple[Decision, dict[str, Any]]:
    """The gates of *p* at *at* (with the policy pack of the kits named *pack*), not stored:
    a workflow's ``gate`` step stores what it decides with its own end."""
    return _evaluate(home, db, p, at, pack=pack)


def show(db: sqlite_utils.Database, promotion_id: str) -> dict[str, Any]:
    """A promotion as ``stella promotion show --json`` and ``GET /api/v1/promotions/{id}`` give it:
    the row, approvals, history, and the latest decision record (its gates with their traces)."""
    p = store.get(db, promotion_id)
    latest = store.latest_decision(db, p.id)
    return {"promotion": p.to_dict(), "approvals": store.approvals(db, p.id), "history": store.history(db, p.id),
            "decision": latest[0] if latest else None, "record": latest[1] if latest else None}


def outcome_dict(out: Outcome) -> dict[str, Any]:
    """An operation's result as ``--json`` prints it: the promotion, its decision's digest and record."""
    return {"promotion": out.promotion.to_dict(), "decision": out.record, "record": out.decision.record()}


def promote(home: Home, db: sqlite_utils.Database, ref: str, env_name: str, reason: str, actor: users.User,
            at: dt.datetime | None = None, role: str = "requester") -> Outcome:
    """Create a promotion and evaluate its gates; refused (nothing stored) when a gate
    other than approvals blocks. ``stella rollback`` requests with ``role="deployer"``."""
    if not actor.has(role):
        raise MissingRole(f"{actor.name} lacks the {role} role")
    if not reason.strip():
        raise NoReason("a promotion needs a --reason")
    rel = releases.resolve(db, ref)
    env = environments.get(db, env_name)
    pending = store.listing(db, "WHERE environment = ? AND release_name = ? AND release_version = ? AND state IN "
                                f"({', '.join('?' * len(states.PENDING))})",
                            [env.name, rel.name, rel.version, *states.PENDING])
    if pending:
        raise DuplicatePromotion(f"{rel.label} is already being promoted to {env.name} as {pending[0].id} "
                                 f"({pending[0].state})")
    moment = at or now()
    when = format_time(moment)
    p = Promotion(store.next_id(db, "promotions", "P"), rel.name, rel.version, rel.sha256, rel.kit_id, rel.path,
                  env.name, actor.name, reason, states.REQUESTED, when, when)
    with transaction(db):
        store.insert(db, p)
        store.transition(db, p.id, None, states.REQUESTED, actor=actor.name, at=when, note=reason, doing="request",
                         details={"release": rel.label, "environment": env.name})
        decision, docs = _evaluate(home, db, p, moment)
        if any(g.blocks for g in decision.gates if g.name != APPROVALS):
            raise GatesBlocked(_blocked_message(f"promotion of {rel.label} to {env.name}", decision), decision)
        digest = store.save_decision(db, decision, docs, promotion_id=p.id, purpose="promote", actor=actor.name,
                                     at=when)
        store.transition(db, p.id, states.REQUESTED, states.EVALUATED, actor=actor.name, at=when,
                         note=f"decision {digest}", doing="evaluate", details={"decision": digest})
        target = states.APPROVED if decision.verdict == "pass" else states.AWAITING
        store.transition(db, p.id, states.EVALUATED, target, actor=actor.name, at=when,
                         note=decision.gate(APPROVALS).reason, doing="evaluate")
        _supersede(db, p, actor.name, when)
        run = runs.start(home, db, store.get(db, p.id), actor.name, moment)
    _advance_run(home, db, run.id, actor.name)
    return Outcome(store.get(db, p.id), decision, digest)


def _advance_run(home: Home, db: sqlite_utils.Database, run_id: str | None, actor: str) -> None:
    """Move the promotion's run on after a change (without blocking, without a deployer).

    A step refused now (its act raised) waits with the reason: the change stands, the run
    shows why it waits (``stella run show``)."""
    if run_id is None:
        return
    try:
        runs.advance(home, db, run_id, runs.Advance(actor, block=False))
    except StellaError:
        pass


def _run_of(db: sqlite_utils.Database, promotion_id: str) -> str | None:
    row = db.execute("SELECT id FROM runs WHERE promotion_id = ?", [promotion_id]).fetchone()
    return str(row[0]) if row else None


def _supersede(db: sqlite_utils.Database, p: Promotion, actor: str, when: str) -> None:
    older = store.listing(db, "WHERE environment = ? AND id != ? AND state IN (?, ?)",
                          [p.environment, p.id, states.AWAITING, states.APPROVED])
    for old in older:
        store.transition(db, old.id, old.state, states.SUPERSEDED, actor=actor, at=when,
                         note=f"superseded by {p.id} ({p.release})", doing="supersede")
        db.execute("UPDATE runs SET cancelled = 1, cancel_reason = ? WHERE promotion_id = ? AND state = 'running'",
                   [f"promotion {old.id} superseded by {p.id}", old.id])


def _decide_on(db: sqlite_utils.Database, home: Home, p: Promotion, actor: users.User, purpose: str,
               moment: dt.datetime) -> tuple[Decision, str]:
    decision, docs = _evaluate(home, db, p, moment)
    digest = store.save_decision(db, decision, docs, promotion_id=p.id, purpose=purpose, actor=actor.name,
                                 at=format_time(moment))
    return decision, digest


def approve(home: Home, db: sqlite_utils.Database, promotion_id: str, actor: users.User, comment: str | None,
            at: dt.datetime | None = None) -> Outcome:
    """Record an approval and re-evaluate; approved when every gate passes."""
    p = store.get(db, promotion_id)
    env = environments.get(db, p.environment)
    if not actor.has(env.approver_role):
        raise MissingRole(f"{actor.name} lacks the {env.approver_role} role {env.name} requires")
    if p.state not in (states.AWAITING, states.APPROVED):   # extra approvals on approved are kept
        raise BadTransition(f"cannot approve {p.id}: it is {p.state}, not awaiting-approval")
    if env.separation_of_duties and actor.name == p.requester:
        raise SeparationOfDuties(f"{actor.name} requested {p.id} and cannot approve it (separation of duties)")
    if db.execute("SELECT 1 FROM approvals WHERE promotion_id = ? AND user = ?", [p.id, actor.name]).fetchone():
        raise AlreadyApproved(f"{actor.name} has already decided on {p.id}; nobody approves twice")
    moment = at or now()
    when = format_time(moment)
    with transaction(db):
        db.execute("INSERT INTO approvals VALUES (?, ?, 'approve', ?, ?, ?)",
                   [p.id, actor.name, canonical.dumps(list(actor.roles)).decode(), comment, when])
        audit.append(db, actor.name, "promotion.approve", {"promotion": p.id, "comment": comment}, when)
        decision, digest = _decide_on(db, home, p, actor, "approve", moment)
        if decision.verdict == "pass" and p.state == states.AWAITING:
            store.transition(db, p.id, p.state, states.APPROVED, actor=actor.name, at=when,
                             note=decision.gate(APPROVALS).reason, doing="approve", details={"decision": digest})
    _advance_run(home, db, _run_of(db, p.id), actor.name)
    return Outcome(store.get(db, p.id), decision, digest)


def reject(home: Home, db: sqlite_utils.Database, promotion_id: str, actor: users.User, comment: str,
           at: dt.datetime | None = None) -> Outcome:
    p = store.get(db, promotion_id)
    env = environments.get(db, p.environment)
    if not actor.has(env.approver_role) and not actor.has("admin"):
        raise MissingRole(f"{actor.name} lacks the {env.approver_role} role")
    if not comment.strip():
        raise NoComment("a rejection needs a --comment")
    states.check(p.id, p.state, states.REJECTED, "reject")
    moment = at or now()
    when = format_time(moment)
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO approvals VALUES (?, ?, 'reject', ?, ?, ?)",
                   [p.id, actor.name, canonical.dumps(list(actor.roles)).decode(), comment, when])
        decision, digest = _decide_on(db, home, p, actor, "reject", moment)
        store.transition(db, p.id, p.state, states.REJECTED, actor=actor.name, at=when, note=comment,
                         doing="reject", details={"decision": digest})
    _advance_run(home, db, _run_of(db, p.id), actor.name)
    return Outcome(store.get(db, p.id), decision, digest)


def cancel(db: sqlite_utils.Database, promotion_id: str, actor: users.User, reason: str,
           home: Home | None = None) -> Promotion:
    """Cancel a pending promotion; its run is cancelled with it (steps that run on
    cancellation run now when *home* is given, else at the run's next advance)."""
    p = store.get(db, promotion_id)
    if actor.name != p.requester and not actor.has("admin"):
        raise MissingRole(f"only the requester ({p.requester}) or an admin can cancel {p.id}")
    run_id = _run_of(db, p.id)
    with transaction(db):
        store.transition(db, p.id, p.state, states.CANCELLED, actor=actor.name, at=format_time(now()),
                         note=reason or "cancelled", doing="cancel")
        if run_id is not None:
            db.execute("UPDATE runs SET cancelled = 1, cancel_reason = ? WHERE id = ? AND state = 'running'",
                       [f"promotion {p.id} cancelled by {actor.name}: {reason or 'no reason given'}", run_id])
    if home is not None:
        _advance_run(home, db, run_id, actor.name)
    return store.get(db, p.id)


def recheck(home: Home, db: sqlite_utils.Database, promotion_id: str, actor: users.User,
            at: dt.datetime | None = None) -> Outcome:
    """Evaluate again (a freeze ended, a soak time passed); awaiting-approval → approved
    when everything passes now."""
    p = store.get(db, promotion_id)
    moment = at or now()
    with transaction(db):
        decision, digest = _decide_on(db, home, p, actor, "evaluate", moment)
        audit.append(db, actor.name, "promotion.evaluate", {"promotion": p.id, "decision": digest,
                                                            "verdict": decision.verdict}, format_time(moment))
        if p.state == states.AWAITING and decision.verdict == "pass":
            store.transition(db, p.id, p.state, states.APPROVED, actor=actor.name, at=format_time(moment),
                             note="all gates pass", doing="approve", details={"decision": digest})
    _advance_run(home, db, _run_of(db, p.id), actor.name)
    return Outcome(store.get(db, p.id), decision, digest)


def start_deployment(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User,
                     at: dt.datetime | None = None, detail: dict[str, Any] | None = None) -> tuple[str, Outcome]:
    """approved → deploying, after re-evaluating every gate with the deployer known.

    Returns (deployment id ``D-0001``, outcome). Raises GatesBlocked (nothing changed)
    when a gate fails now — e.g. a freeze began, or the deployer's own approval was
    needed to reach N (separation of duties).
    """
    p = store.get(db, promotion_id)
    if not deployer.has("deployer"):
        raise MissingRole(f"{deployer.name} lacks the deployer role")
    states.check(p.id, p.state, states.DEPLOYING, "deploy")
    moment = at or now()
    when = format_time(moment)
    with transaction(db):
        decision, docs = _evaluate(home, db, p, moment, deployer=deployer.name)
        if decision.verdict != "pass":
            raise GatesBlocked(_blocked_message(f"deployment of {p.id}", decision), decision)
        digest = store.save_decision(db, decision, docs, promotion_id=p.id, purpose="deploy", actor=deployer.name,
                                     at=when)
        dep_id = store.next_id(db, "deployments", "D")
        db.execute("INSERT INTO deployments VALUES (?, ?, ?, ?, 'deploying', ?, ?, NULL, NULL, ?)",
                   [dep_id, p.id, p.environment, p.release, deployer.name, when,
                    canonical.dumps(detail or {}).decode()])
        store.transition(db, p.id, p.state, states.DEPLOYING, actor=deployer.name, at=when,
                         note=f"deployment {dep_id}", doing="deploy",
                         details={"deployment": dep_id, "decision": digest})
    return dep_id, Outcome(store.get(db, p.id), decision, digest)


def finish_deployment(db: sqlite_utils.Database, deployment_id: str, ok: bool, actor: str,
                      detail: dict[str, Any] | None = None, health: str | None = None,
                      at: dt.datetime | None = None) -> Promotion:
    """deploying → deployed (ok) | failed; records the deployment's end."""
    row = db.execute("SELECT promotion_id, state FROM deployments WHERE id = ?", [deployment_id]).fetchone()
    if row is None:
        raise UnknownDeployment(f"unknown deployment {deployment_id}")
    p = store.get(db, row[0])
    target = states.DEPLOYED if ok else states.FAILED
    when = format_time(at or now())
    with transaction(db):
        store.transition(db, p.id, p.state, target, actor=actor, at=when, note=f"deployment {deployment_id}",
                         doing="finish deployment of", details={"deployment": deployment_id})
        db.execute("UPDATE deployments SET state = ?, finished_at = ?, health = ?, detail = ? WHERE id = ?",
                   [target, when, health, canonical.dumps(detail or {}).decode(), deployment_id])
    return store.get(db, p.id)


def mark_deployed(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User,
                  note: str, at: dt.datetime | None = None) -> Promotion:
    """The manual path: record that an operator deployed it by other means (no deploy target)."""
    dep_id, _ = start_deployment(home, db, promotion_id, deployer, at, {"manual": True, "note": note})
    return finish_deployment(db, dep_id, True, deployer.name, {"manual": True, "note": note}, at=at)
