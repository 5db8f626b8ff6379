"""kit.yaml ``advisories:`` items: a path, or a mapping ``{path, source, snapshot, priority, format}``.

Only the shape is checked here (types, names, that the path exists); reading the
records is ``advisories.advisory_entries``. See docs/advisories.md for the rules.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import SpecError
from kit.timeutil import TimeFormatError, parse_time

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
ITEM_KEYS = frozenset({"path", "source", "snapshot", "priority", "format"})
FORMATS = ("osv", "csaf")


@dataclass(frozen=True)
class AdvisoryInput:
    """One advisory source as kit.yaml describes it.

    ``source`` and ``snapshot`` are ``""`` / ``None`` when kit.yaml leaves them out;
    ``advisory_entries`` then derives them (from the ids and the records' ``modified``).
    """

    path: Path                       # resolved against the kit.yaml folder
    written: str                     # the path as written in kit.yaml (used in reports and errors)
    source: str = ""
    snapshot: dt.datetime | None = None
    priority: int = 0
    format: str = "osv"              # osv (files, folders, .zip, NDJSON) or csaf (CSAF 2.0 .json files)


def _one(item: Any, base_dir: Path, where: str) -> AdvisoryInput:
    if isinstance(item, str):
        item = {"path": item}
    if not isinstance(item, dict):
        raise SpecError(f"{where}: must be a path or a mapping with path, source, snapshot, priority, format")
    extra = sorted(set(item) - ITEM_KEYS)
    if extra:
        raise SpecError(f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(ITEM_KEYS))})")
    written = item.get("path")
    if not isinstance(written, str) or not written:
        raise SpecError(f"{where}: path must be a non-empty string")
    path = base_dir / written
    if not path.exists():
        raise SpecError(f"{where}: {written} does not exist (paths are relative to kit.yaml)")
    return AdvisoryInput(path=path, written=written, source=_source(item.get("source"), where),
                         snapshot=_snapshot(item.get("snapshot"), where),
                         priority=_priority(item.get("priority", 0), where),
                         format=_format(item.get("format", "osv"), where))


def _source(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not SOURCE_NAME.match(value):
        raise SpecError(f"{where}: source must be lowercase letters, digits, '.', '_' or '-' "
                        f"(at most 63), got {value!r}")
    return value


def _snapshot(value: Any, where: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except TimeFormatError as exc:
        raise SpecError(f"{where}: snapshot: {exc}") from None


def _format(value: Any, where: str) -> str:
    if value not in FORMATS:
        raise SpecError(f"{where}: format must be one of {', '.join(FORMATS)}, got {value!r}")
    return str(value)


def _priority(value: Any, where: str) -> int:
    # bool is an int subclass; "priority: yes" is a typo, not priority 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{where}: priority must be an integer, got {value!r}")
    return value


def parse_advisory_inputs(value: Any, base_dir: Path, where: str) -> tuple[AdvisoryInput, ...]:
    """The ``advisories:`` value of kit.yaml as ``AdvisoryInput`` items, in written order.

    Args:
        value: the YAML value: ``None``, a path string, a mapping, or a list of those.
        base_dir: the folder of kit.yaml; paths are relative to it.
        where: the kit.yaml path, for messages.

    Raises:
        SpecError: wrong type, unknown key, bad source name, snapshot or priority, a
            path that does not exist, or two items with the same explicit source name.
    """
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    inputs = tuple(_one(item, base_dir, f"{where}: advisories[{i}]") for i, item in enumerate(items))
    named = [i.source for i in inputs if i.source]
    for name in sorted(set(named)):
        if named.count(name) > 1:
            raise SpecError(f"{where}: advisories: source name {name!r} is given twice; "
                            "a source name must be unique")
    return inputs
