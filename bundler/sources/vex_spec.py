"""kit.yaml ``vex:`` items: a path (OpenVEX), or ``{path, format, issuer, timestamp}``.

``format`` is ``openvex`` (the default), ``csaf`` or ``cyclonedx``. ``issuer`` and
``timestamp`` are for CycloneDX only: used when the BOM itself names no supplier,
manufacturer or author, or gives no time. Only the shape is checked here; reading is
``vex.vex_entries``. See docs/kit-yaml.md and docs/vex.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import SpecError
from kit.timeutil import TimeFormatError, format_time, parse_time

FORMATS = ("openvex", "csaf", "cyclonedx")
ITEM_KEYS = frozenset({"path", "format", "issuer", "timestamp"})


@dataclass(frozen=True)
class VexInput:
    path: Path                 # resolved against the kit.yaml folder
    written: str               # as written in kit.yaml
    format: str = "openvex"
    issuer: str = ""           # cyclonedx: fallback issuer
    timestamp: str = ""        # cyclonedx: fallback time, RFC 3339


def _text(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key, "")
    if not isinstance(value, str):
        raise SpecError(f"{where}: {key} must be a string, got {value!r}")
    return value.strip()


def _one(item: Any, base: Path, where: str) -> VexInput:
    if isinstance(item, str):
        item = {"path": item}
    if not isinstance(item, dict):
        raise SpecError(f"{where}: must be a path or a mapping with path, format, issuer, timestamp")
    extra = sorted(set(item) - ITEM_KEYS)
    if extra:
        raise SpecError(f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(ITEM_KEYS))})")
    written, fmt = item.get("path"), item.get("format", "openvex")
    if not isinstance(written, str) or not written:
        raise SpecError(f"{where}: path must be a non-empty string")
    if fmt not in FORMATS:
        raise SpecError(f"{where}: format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    issuer, stamp = _text(item, "issuer", where), _text(item, "timestamp", where)
    if fmt != "cyclonedx" and (issuer or stamp):
        raise SpecError(f"{where}: issuer and timestamp are for format cyclonedx only "
                        f"({'a CSAF document names its publisher' if fmt == 'csaf' else 'OpenVEX names its author'})")
    if stamp:
        try:
            stamp = format_time(parse_time(stamp))
        except TimeFormatError as exc:
            raise SpecError(f"{where}: timestamp: {exc}") from None
    path = base / written
    if not path.exists():
        raise SpecError(f"{where}: {written} does not exist (paths are relative to kit.yaml)")
    return VexInput(path, written, str(fmt), issuer, stamp)


def parse_vex_inputs(value: Any, base: Path, where: str) -> tuple[VexInput, ...]:
    """The ``vex:`` value of kit.yaml (``None``, a path, a mapping, or a list of those), in order.

    Raises:
        SpecError: wrong type, unknown key or format, a bad timestamp, a path that does not exist.
    """
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(_one(item, base, f"{where}: vex[{i}]") for i, item in enumerate(items))
