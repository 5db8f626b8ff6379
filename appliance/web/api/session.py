"""Who am I: the session's user and roles (login/logout: issue 12, being built)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from appliance.web.caller import Caller
from appliance.web.deps import caller

router = APIRouter(tags=["session"])


@router.get("/me")
def me(who: Caller = Depends(caller)) -> dict[str, Any]:
    return {"user": who.user.name, "roles": list(who.user.roles), "via": who.via}
