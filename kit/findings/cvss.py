"""CVSS base scores computed from vectors: v2, v3.0, v3.1 (spec formulas) and v4.0.

v3.x follows section 7 of the FIRST specification, including v3.1's floating-point-safe
Roundup. v4.0 follows the FIRST reference algorithm (MacroVector lookup plus
interpolation by severity distance), using only base metrics: threat and environmental
metrics in a vector are ignored, so the result is the CVSS-B score. Scores are returned
as one-decimal strings ("9.8") because canonical JSON carries no floats.
"""

from __future__ import annotations

import math

from kit.findings.cvss_v4 import score_v4
from kit.findings.errors import FindingsFormatError

_V3_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_V3_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_V2_WEIGHTS = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "C": {"N": 0.0, "P": 0.275, "C": 0.660},
}


def parse_vector(vector: str, prefix: str | None) -> dict[str, str]:
    """Metric -> value from ``PREFIX/AV:N/...``; raises on duplicates or bad parts."""
    parts = vector.strip().split("/")
    if prefix is not None:
        if parts[0] != prefix:
            raise FindingsFormatError(f"CVSS vector {vector!r} does not start with {prefix}")
        parts = parts[1:]
    metrics: dict[str, str] = {}
    for part in parts:
        name, colon, value = part.partition(":")
        if not colon or not name or not value or name in metrics:
            raise FindingsFormatError(f"CVSS vector {vector!r} has a bad part {part!r}")
        metrics[name] = value
    return metrics


def _pick(metrics: dict[str, str], name: str, table: dict[str, float], vector: str) -> float:
    try:
        return table[metrics[name]]
    except KeyError:
        raise FindingsFormatError(f"CVSS vector {vector!r}: missing or bad {name}") from None


def _roundup_31(value: float) -> float:
    scaled = round(value * 100000)
    if scaled % 10000 == 0:
        return scaled / 100000.0
    return (math.floor(scaled / 10000) + 1) / 10.0


def _roundup_30(value: float) -> float:
    return math.ceil(value * 10) / 10.0


def score_v3(vector: str) -> float:
    version = vector.split("/", 1)[0]
    if version not in ("CVSS:3.0", "CVSS:3.1"):
        raise FindingsFormatError(f"CVSS vector {vector!r} is not CVSS:3.0 or CVSS:3.1")
    m = parse_vector(vector, version)
    scope = m.get("S")
    if scope not in ("U", "C"):
        raise FindingsFormatError(f"CVSS vector {vector!r}: missing or bad S")
    c, i, a = (_pick(m, k, _V3_WEIGHTS["C"], vector) for k in ("C", "I", "A"))
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    if scope == "U":
        impact = 6.42 * iss
    else:
        impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    exploitability = (8.22 * _pick(m, "AV", _V3_WEIGHTS["AV"], vector)
                      * _pick(m, "AC", _V3_WEIGHTS["AC"], vector)
                      * _pick(m, "PR", _V3_PR[scope], vector)
                      * _pick(m, "UI", _V3_WEIGHTS["UI"], vector))
    if impact <= 0:
        return 0.0
    roundup = _roundup_31 if version == "CVSS:3.1" else _roundup_30
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return roundup(min(total, 10.0))


def score_v2(vector: str) -> float:
    m = parse_vector(vector.removeprefix("(").removesuffix(")"), None)
    c, i, a = (_pick(m, k, _V2_WEIGHTS["C"], vector) for k in ("C", "I", "A"))
    impact = 10.41 * (1 - (1 - c) * (1 - i) * (1 - a))
    exploitability = 20 * (_pick(m, "AV", _V2_WEIGHTS["AV"], vector)
                           * _pick(m, "AC", _V2_WEIGHTS["AC"], vector)
                           * _pick(m, "Au", _V2_WEIGHTS["Au"], vector))
    f_impact = 0.0 if impact == 0 else 1.176
    value = ((0.6 * impact) + (0.4 * exploitability) - 1.5) * f_impact
    return math.floor(value * 10 + 0.5 + 1e-9) / 10.0


def base_score(vector: str) -> str:
    """The base score of any supported vector as a one-decimal string.

    Raises:
        FindingsFormatError: the vector is malformed or of an unknown version.
    """
    text = vector.strip()
    if text.startswith("CVSS:3."):
        value = score_v3(text)
    elif text.startswith("CVSS:4.0/"):
        value = score_v4(text)
    elif text.startswith("AV:") or text.startswith("(AV:"):
        value = score_v2(text)
    else:
        raise FindingsFormatError(f"unknown CVSS vector version in {vector!r}")
    return f"{value:.1f}"


def label_for(score: str) -> str:
    """The qualitative rating (v3/v4 scale) of a score string: critical … none."""
    value = float(score)
    if value >= 9.0:
        return "critical"
    if value >= 7.0:
        return "high"
    if value >= 4.0:
        return "medium"
    return "low" if value > 0 else "none"
