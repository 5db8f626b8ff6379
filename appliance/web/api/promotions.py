"""Promotions: list, request, show, approve, reject, evaluate, cancel, evidence (docs/api.md).

Every route calls the function ``stella promote|approve|reject|promotion …|evidence
export`` calls, acting as the authenticated caller; roles, separation of duties, gates
and state transitions are checked there, and their refusals become the error envelope.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlite_utils
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from appliance.deploy import auto
from appliance.home import Home
from appliance.promotions import packets, service, store
from appliance.web.caller import Caller
from appliance.web.deps import caller, database, home
from appliance.web.errors import HTTPProblem
from appliance.web.paging import PageRequest, check_key, from_fetched, page_request
from kit.evidence.packet import TYPES

router = APIRouter(tags=["promotions"])


class PromotionRequest(BaseModel):
    """``stella promote NAME@VERSION --to ENV --reason TEXT``."""

    release: str = Field(description="NAME@VERSION (or NAME: its newest imported version)")
    environment: str
    reason: str


class Comment(BaseModel):
    comment: str | None = None


class RejectRequest(BaseModel):
    comment: str = Field(description="why (required, as `stella reject --comment`)")


class CancelRequest(BaseModel):
    reason: str = ""


@router.get("/promotions")
def list_promotions(page: PageRequest = Depends(page_request), state: str | None = None,
                    environment: str | None = None,
                    order: Literal["asc", "desc"] = Query("asc", description="asc: in request order; desc: newest "
                                                                             "first"),
                    db: sqlite_utils.Database = Depends(database),
                    who: Caller = Depends(caller)) -> dict[str, Any]:
    """Promotions in request order (or newest first), optionally in one state and/or environment."""
    check_key(page, int)
    rows = store.page(db, after=page.after, limit=page.limit + 1, state=state, environment=environment,
                      newest_first=order == "desc")
    return from_fetched(rows, page, lambda r: r[0], lambda r: r[1].to_dict())


@router.post("/promotions", status_code=201)
def request_promotion(body: PromotionRequest, h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
                      who: Caller = Depends(caller)) -> dict[str, Any]:
    """Request a promotion; its gates are evaluated now (422 ``blocked`` naming each failing gate)."""
    return service.outcome_dict(service.promote(h, db, body.release, body.environment, body.reason, who.user))


@router.get("/promotions/{promotion_id}")
def show_promotion(promotion_id: str, db: sqlite_utils.Database = Depends(database),
                   who: Caller = Depends(caller)) -> dict[str, Any]:
    """State, approvals, history and the latest decision record (each gate with verdict and trace)."""
    return service.show(db, promotion_id)


@router.post("/promotions/{promotion_id}/approve")
def approve_promotion(promotion_id: str, body: Comment | None = None, h: Home = Depends(home),
                      db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Approve (the environment's approver role; separation of duties); when this approval
    makes it approved and the environment deploys automatically, the deploy runs as for
    ``stella approve`` and ``autoDeploy`` reports it."""
    out, deployed = auto.approve(h, db, promotion_id, who.user, body.comment if body else None)
    return {**service.outcome_dict(out), "autoDeploy": deployed.to_dict() if deployed else None}


@router.post("/promotions/{promotion_id}/reject")
def reject_promotion(promotion_id: str, body: RejectRequest, h: Home = Depends(home),
                     db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Reject a pending promotion (final)."""
    return service.outcome_dict(service.reject(h, db, promotion_id, who.user, body.comment))


@router.post("/promotions/{promotion_id}/evaluate")
def evaluate_promotion(promotion_id: str, h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
                       who: Caller = Depends(caller)) -> dict[str, Any]:
    """Evaluate the gates again (a freeze ended, a soak time passed)."""
    return service.outcome_dict(service.recheck(h, db, promotion_id, who.user))


@router.post("/promotions/{promotion_id}/cancel")
def cancel_promotion(promotion_id: str, body: CancelRequest | None = None, h: Home = Depends(home),
                     db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Cancel a pending promotion (its requester or an admin); its run is cancelled with it."""
    return {"promotion": service.cancel(db, promotion_id, who.user, body.reason if body else "", home=h).to_dict()}


@router.get("/promotions/{promotion_id}/evidence", response_class=Response,
            responses={200: {"content": {"application/json": {}},
                             "description": "the DSSE-signed evidence packet"}})
def evidence(promotion_id: str, type: str = Query("release_decision", description=" | ".join(TYPES)),  # noqa: A002
             decision: str | None = Query(None, description="a decision record digest (default: the latest)"),
             h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
             who: Caller = Depends(caller)) -> Response:
    """The evidence packet as ``stella evidence export`` writes it (the export is audited)."""
    if type not in TYPES:
        raise HTTPProblem(400, "bad-request", f"type must be one of {', '.join(TYPES)}")
    data, digest = packets.export_recorded(h, db, promotion_id, who.user.name, packet_type=type, decision=decision)
    name = f"{promotion_id}-{type}.json"
    return Response(data, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Stella-Digest": digest})
