"""Quarantine: a kit that failed verification is kept aside with a report of why.

``quarantine/<time>-<file name>/`` holds the kit (copied, or moved when it lies inside
the home) and ``report.json``. Written under a temporary name and renamed, so a crash
never leaves half a quarantine entry. Nothing else in the appliance changes.

Quarantine can neither fill the disk nor hide the verdict (docs/appliance.md, "Quarantine"):

- the kits it keeps total at most ``STELLA_QUARANTINE_MAX_BYTES`` (default 10 GiB): the
  oldest entries' kit files are evicted first (their reports stay), and a kit larger than
  the cap is not kept at all (its report is);
- a kit already in quarantine (same size and sha256) is not stored again;
- when keeping the kit fails (no space left, an I/O error) the partial copy is removed and
  the refusal is still reported with its own kind: keeping evidence never replaces the verdict.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.home import Home, fsync_dir
from kit.timeutil import now

DEFAULT_MAX_BYTES = 10 << 30
REPORT = "report.json"
EVICTED = "EVICTED"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Kept:
    """What quarantine did with a refused kit; ``describe()`` ends the refusal's message."""

    folder: Path | None
    how: str                      # quarantined | already | report-only | failed
    detail: str = ""

    def describe(self) -> str:
        if self.how == "quarantined":
            return f"kit quarantined in {self.folder}"
        if self.how == "already":
            return f"kit already quarantined in {self.folder}"
        if self.how == "report-only":
            return f"report kept in {self.folder}; the kit itself was not kept ({self.detail})"
        return f"kit not quarantined ({self.detail})"


def max_bytes() -> int:
    """The quarantine's cap on kept kit files, from ``STELLA_QUARANTINE_MAX_BYTES`` (bytes)."""
    raw = os.environ.get("STELLA_QUARANTINE_MAX_BYTES", "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_MAX_BYTES


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(source: Path, target: Path) -> str:
    """Copy *source* to *target*, synced; its sha256."""
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest()


def _kept(home: Home) -> list[tuple[Path, dict[str, Any], int]]:
    """Each entry's folder, report and kept kit bytes, oldest first."""
    out = []
    for folder in sorted(home.quarantine.iterdir()) if home.quarantine.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            report = json.loads((folder / REPORT).read_text())
        except (OSError, ValueError):
            continue
        size = sum(p.stat().st_size for p in folder.iterdir() if p.name not in (REPORT, EVICTED) and p.is_file())
        out.append((folder, report if isinstance(report, dict) else {}, size))
    return out


def _duplicate(kit: Path, size: int, kept: list[tuple[Path, dict[str, Any], int]]) -> Path | None:
    same_size = [(folder, report) for folder, report, held in kept if held and report.get("kitSize") == size]
    if not same_size:
        return None                      # hash only when a kept kit could be the same file
    digest = _sha256(kit)
    return next((folder for folder, report in same_size if report.get("kitSha256") == digest), None)


def _evict(kept: list[tuple[Path, dict[str, Any], int]], room: int, cap: int) -> None:
    """Remove the oldest kept kit files until *room* more bytes fit under *cap* (reports stay)."""
    total = sum(held for _, _, held in kept)
    for folder, _report, held in kept:
        if total + room <= cap:
            return
        if not held:
            continue
        for p in folder.iterdir():
            if p.name not in (REPORT, EVICTED) and p.is_file():
                p.unlink()
        with contextlib.suppress(OSError):
            (folder / EVICTED).write_text(f"kit evicted {now().strftime('%Y-%m-%dT%H:%M:%SZ')} "
                                            "(quarantine size cap, oldest first)\n")
        total -= held


def quarantine(home: Home, kit: Path, report: dict[str, Any]) -> Kept:
    """Keep *kit* and *report* as well as the disk and the cap allow; never raises for I/O.

    A kit that is not a regular file (a FIFO, a device, a link to ``/dev/zero``: refused as
    ``special-file``) is never opened: only the report is kept.
    """
    if kit.exists() and not kit.is_file():
        only = _write(home, kit, report, moved=False, keep_kit=False, size=0, cap=max_bytes())
        return Kept(only.folder, only.how, "not a regular file, so not copied" if only.folder else only.detail)
    try:
        home.quarantine.mkdir(parents=True, exist_ok=True)
        kept = _kept(home)
        moved = _inside(kit, home.root) and kit.exists()
        size = kit.stat().st_size if kit.exists() else 0
        same = _duplicate(kit, size, kept) if size else None
        if same is not None:
            if moved:
                kit.unlink()             # the appliance's own upload: the copy in quarantine is the same
            return Kept(same, "already")
    except OSError as exc:
        return Kept(None, "failed", f"{exc.strerror or exc}")
    cap = max_bytes()
    keep_kit = size <= cap
    if keep_kit:
        with contextlib.suppress(OSError):
            _evict(kept, size, cap)
    return _write(home, kit, report, moved=moved, keep_kit=keep_kit, size=size, cap=cap)


def _write(home: Home, kit: Path, report: dict[str, Any], *, moved: bool, keep_kit: bool, size: int,
           cap: int) -> Kept:
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{kit.name}"
    target = home.quarantine / name
    n = 1
    while target.exists():
        n += 1
        target = home.quarantine / f"{name}.{n}"
    tmp = home.quarantine / f".{target.name}.partial"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        digest = None
        if keep_kit and moved:
            os.rename(kit, tmp / kit.name)
        elif keep_kit and kit.exists():
            digest = _copy(kit, tmp / kit.name)
        full = {**report, "kitFile": str(kit), "moved": moved and keep_kit, "kitSize": size,
                "kitSha256": digest or (_sha256(tmp / kit.name) if keep_kit and moved else None),
                "kitKept": keep_kit}
        (tmp / REPORT).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
        os.rename(tmp, target)
        fsync_dir(home.quarantine)
    except OSError as exc:
        if keep_kit and moved and (tmp / kit.name).exists():
            with contextlib.suppress(OSError):
                os.rename(tmp / kit.name, kit)          # give the kit back where it was
        shutil.rmtree(tmp, ignore_errors=True)
        return Kept(None, "failed", f"{exc.strerror or exc}; nothing was kept")
    if not keep_kit:
        return Kept(target, "report-only", f"{size} bytes, over the quarantine cap of {cap} bytes "
                                           "(STELLA_QUARANTINE_MAX_BYTES)")
    return Kept(target, "quarantined")


def entries(home: Home) -> list[dict[str, Any]]:
    out = []
    for folder in sorted(home.quarantine.iterdir()) if home.quarantine.is_dir() else []:
        report = folder / REPORT
        if folder.is_dir() and report.is_file():
            out.append({"folder": folder.name, **json.loads(report.read_text())})
    return out
