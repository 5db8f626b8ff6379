"""Quarantine: a kit that failed verification is kept aside with a report of why.

``quarantine/<time>-<file name>/`` holds the kit (copied, or moved when it lies inside
the home) and ``report.json``. Written under a temporary name and renamed, so a crash
never leaves half a quarantine entry. Nothing else in the appliance changes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from appliance.home import Home, fsync_dir
from kit.timeutil import now


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def quarantine(home: Home, kit: Path, report: dict[str, Any]) -> Path:
    """Keep *kit* and *report*; returns the quarantine folder."""
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{kit.name}"
    target = home.quarantine / name
    n = 1
    while target.exists():
        n += 1
        target = home.quarantine / f"{name}.{n}"
    tmp = home.quarantine / f".{target.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    moved = _inside(kit, home.root) and kit.exists()
    if moved:
        os.rename(kit, tmp / kit.name)
    elif kit.exists():
        shutil.copyfile(kit, tmp / kit.name)
    report = {**report, "kitFile": str(kit), "moved": moved}
    (tmp / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    os.rename(tmp, target)
    fsync_dir(home.quarantine)
    return target


def entries(home: Home) -> list[dict[str, Any]]:
    out = []
    for folder in sorted(home.quarantine.iterdir()) if home.quarantine.is_dir() else []:
        report = folder / "report.json"
        if folder.is_dir() and report.is_file():
            out.append({"folder": folder.name, **json.loads(report.read_text())})
    return out
