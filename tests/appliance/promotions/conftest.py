from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kit.crypto import Signer
from kit.timeutil import format_time, now
from tests.appliance.helpers import stella
from tests.appliance.promotions.kits import openvex, osv, release_files, site_kit

SNAPSHOT = format_time(now() - dt.timedelta(hours=2))
ADVISORIES = [
    osv("PYSEC-2026-1", "requests", "2.32.0", aliases=("CVE-2026-0001",)),       # critical, fix: blocks
    osv("PYSEC-2026-2", "urllib3", None),                                         # critical, no fix: passes
    osv("PYSEC-2026-3", "jinja2", "3.1.5"),                                       # critical, fix, VEX not_affected
]
PACKAGES = [("requests", "2.32.3"), ("urllib3", "2.0.0"), ("jinja2", "3.1.4"), ("flask", "3.0.0")]
VEX = openvex([("PYSEC-2026-3", "pkg:pypi/jinja2@3.1.4", "not_affected")])


def run(home: Path, *args: str, user: str | None = None) -> object:
    extra = ["--as", user] if user else []
    return stella(*args, *extra, home=home)


@pytest.fixture()
def site(tmp_path: Path, home: Path, signer: Signer) -> Path:
    """A home with users, dev/stage/prod and web@1.0.0 (clean) + web@2.0.0 imported."""
    kit_path = tmp_path / "site-1.stella-kit"
    rels = {**release_files("web", "1.0.0", PACKAGES),
            **release_files("web", "2.0.0", [("requests", "2.31.0"), ("flask", "3.0.0")])}
    site_kit(kit_path, [signer], sequence=1, advisories=ADVISORIES, snapshot=SNAPSHOT, releases=rels, vex=VEX)
    assert stella("import", str(kit_path), "--no-seed", home=home).exit_code == 0
    for name, roles in (("root", ["admin"]), ("alice", ["requester"]), ("bob", ["approver"]),
                        ("carol", ["approver"]), ("dave", ["deployer", "approver"]), ("erin", ["auditor"])):
        result = run(home, "user", "add", name, *[x for r in roles for x in ("--role", r)],
                     user=None if name == "root" else "root")
        assert result.exit_code == 0, result.output
    for name, order, extra in (("dev", 1, []), ("stage", 2, []),
                               ("prod", 3, ["--requires-approvals", "2", "--separation-of-duties"])):
        result = run(home, "env", "create", name, "--order", str(order), *extra, user="root")
        assert result.exit_code == 0, result.output
    return home
