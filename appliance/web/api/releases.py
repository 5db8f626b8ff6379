"""Releases: list, show (components by digest, SBOM summary per ecosystem), findings with VEX."""

from __future__ import annotations

from typing import Any

import sqlite_utils
from fastapi import APIRouter, Depends, Query

from appliance import release_findings, releases
from appliance.home import Home
from appliance.web.caller import Caller
from appliance.web.deps import caller, database, home
from appliance.web.paging import PageRequest, check_key, in_memory, page_request
from kit.findings.report import report_dict

router = APIRouter(tags=["releases"])


@router.get("/releases")
def list_releases(page: PageRequest = Depends(page_request), db: sqlite_utils.Database = Depends(database),
                  who: Caller = Depends(caller)) -> dict[str, Any]:
    """Every NAME@VERSION imported (the newest kit carrying it), ordered by name and version."""
    check_key(page, str, str)
    return in_memory(releases.listing(db), page, lambda r: (r.name, r.version), releases.to_dict)


@router.get("/releases/{ref}")
def show_release(ref: str, h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
                 who: Caller = Depends(caller)) -> dict[str, Any]:
    """As ``stella release show --json``, plus ``ecosystems``: SBOM components per ecosystem."""
    rel, shown = releases.show(h, db, ref)
    return {**shown, "ecosystems": release_findings.ecosystems(h, db, rel, shown["document"])}


@router.get("/releases/{ref}/findings")
def release_findings_(ref: str, env: str | None = Query(None, description="with NAME only: the version deployed "
                                                                          "there"),
                      show_suppressed: bool = Query(False, alias="showSuppressed"),
                      h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
                      who: Caller = Depends(caller)) -> dict[str, Any]:
    """As ``stella findings REF --json``: each finding with severity and its VEX status and reason."""
    return report_dict(release_findings.release_findings(h, db, ref, env), show_suppressed)
