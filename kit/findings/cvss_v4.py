"""CVSS v4.0 base score (CVSS-B) by the FIRST reference algorithm.

The score of a vector is the score of its MacroVector (six equivalence-class digits,
looked up in the table the CVSS SIG published with the specification) minus the mean,
over the equivalence sets that have a lower MacroVector, of the available score drop
times the vector's proportional severity distance from the highest vector in its class.
Data tables: FIRST CVSS v4.0 specification and reference calculator (© FIRST, Red Hat
and contributors, BSD-2-Clause), transcribed as data.
"""

from __future__ import annotations

import math

from kit.findings.errors import FindingsFormatError

# MacroVector -> score. Eight entries per line, "EQ1..EQ6:score".
_TABLE_TEXT = """
000000:10 000001:9.9 000010:9.8 000011:9.5 000020:9.5 000021:9.2 000100:10 000101:9.6
000110:9.3 000111:8.7 000120:9.1 000121:8.1 000200:9.3 000201:9 000210:8.9 000211:8
000220:8.1 000221:6.8 001000:9.8 001001:9.5 001010:9.5 001011:9.2 001020:9 001021:8.4
001100:9.3 001101:9.2 001110:8.9 001111:8.1 001120:8.1 001121:6.5 001200:8.8 001201:8
001210:7.8 001211:7 001220:6.9 001221:4.8 002001:9.2 002011:8.2 002021:7.2 002101:7.9
002111:6.9 002121:5 002201:6.9 002211:5.5 002221:2.7 010000:9.9 010001:9.7 010010:9.5
010011:9.2 010020:9.2 010021:8.5 010100:9.5 010101:9.1 010110:9 010111:8.3 010120:8.4
010121:7.1 010200:9.2 010201:8.1 010210:8.2 010211:7.1 010220:7.2 010221:5.3 011000:9.5
011001:9.3 011010:9.2 011011:8.5 011020:8.5 011021:7.3 011100:9.2 011101:8.2 011110:8
011111:7.2 011120:7 011121:5.9 011200:8.4 011201:7 011210:7.1 011211:5.2 011220:5
011221:3 012001:8.6 012011:7.5 012021:5.2 012101:7.1 012111:5.2 012121:2.9 012201:6.3
012211:2.9 012221:1.7 100000:9.8 100001:9.5 100010:9.4 100011:8.7 100020:9.1 100021:8.1
100100:9.4 100101:8.9 100110:8.6 100111:7.4 100120:7.7 100121:6.4 100200:8.7 100201:7.5
100210:7.4 100211:6.3 100220:6.3 100221:4.9 101000:9.4 101001:8.9 101010:8.8 101011:7.7
101020:7.6 101021:6.7 101100:8.6 101101:7.6 101110:7.4 101111:5.8 101120:5.9 101121:5
101200:7.2 101201:5.7 101210:5.7 101211:5.2 101220:5.2 101221:2.5 102001:8.3 102011:7
102021:5.4 102101:6.5 102111:5.8 102121:2.6 102201:5.3 102211:2.1 102221:1.3 110000:9.5
110001:9 110010:8.8 110011:7.6 110020:7.6 110021:7 110100:9 110101:7.7 110110:7.5
110111:6.2 110120:6.1 110121:5.3 110200:7.7 110201:6.6 110210:6.8 110211:5.9 110220:5.2
110221:3 111000:8.9 111001:7.8 111010:7.6 111011:6.7 111020:6.2 111021:5.8 111100:7.4
111101:5.9 111110:5.7 111111:5.7 111120:4.7 111121:2.3 111200:6.1 111201:5.2 111210:5.7
111211:2.9 111220:2.4 111221:1.6 112001:7.1 112011:5.9 112021:3 112101:5.8 112111:2.6
112121:1.5 112201:2.3 112211:1.3 112221:0.6 200000:9.3 200001:8.7 200010:8.6 200011:7.2
200020:7.5 200021:5.8 200100:8.6 200101:7.4 200110:7.4 200111:6.1 200120:5.6 200121:3.4
200200:7 200201:5.4 200210:5.2 200211:4 200220:4 200221:2.2 201000:8.5 201001:7.5
201010:7.4 201011:5.5 201020:6.2 201021:5.1 201100:7.2 201101:5.7 201110:5.5 201111:4.1
201120:4.6 201121:1.9 201200:5.3 201201:3.6 201210:3.4 201211:1.9 201220:1.9 201221:0.8
202001:6.4 202011:5.1 202021:2 202101:4.7 202111:2.1 202121:1.1 202201:2.4 202211:0.9
202221:0.4 210000:8.8 210001:7.5 210010:7.3 210011:5.3 210020:6 210021:5 210100:7.3
210101:5.5 210110:5.9 210111:4 210120:4.1 210121:2 210200:5.4 210201:4.3 210210:4.5
210211:2.2 210220:2 210221:1.1 211000:7.5 211001:5.5 211010:5.8 211011:4.5 211020:4
211021:2.1 211100:6.1 211101:5.1 211110:4.8 211111:1.8 211120:2 211121:0.9 211200:4.6
211201:1.8 211210:1.7 211211:0.7 211220:0.8 211221:0.2 212001:5.3 212011:2.4 212021:1.4
212101:2.4 212111:1.2 212121:0.5 212201:1 212211:0.3 212221:0.1
"""
LOOKUP: dict[str, float] = {k: float(v) for k, v in
                            (item.split(":") for item in _TABLE_TEXT.split())}

# Highest-severity vectors of each equivalence class (EQ3 keyed by EQ6 too).
_MAX_EQ1 = {0: ["AV:N/PR:N/UI:N"], 1: ["AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"],
            2: ["AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"]}
_MAX_EQ2 = {0: ["AC:L/AT:N"], 1: ["AC:H/AT:N", "AC:L/AT:P"]}
_MAX_EQ3 = {
    (0, 0): ["VC:H/VI:H/VA:H/CR:H/IR:H/AR:H"],
    (0, 1): ["VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"],
    (1, 0): ["VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"],
    (1, 1): ["VC:L/VI:H/VA:L/CR:H/IR:M/AR:H", "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M",
             "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M", "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H",
             "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M"],
    (2, 1): ["VC:L/VI:L/VA:L/CR:H/IR:H/AR:H"],
}
_MAX_EQ4 = {0: ["SC:H/SI:S/SA:S"], 1: ["SC:H/SI:H/SA:H"], 2: ["SC:L/SI:L/SA:L"]}
# Depth of each class in severity-distance steps (the reference's "max severity").
_DEPTH_EQ1 = {0: 1, 1: 4, 2: 5}
_DEPTH_EQ2 = {0: 1, 1: 2}
_DEPTH_EQ3EQ6 = {(0, 0): 7, (0, 1): 6, (1, 0): 8, (1, 1): 8, (2, 1): 10}
_DEPTH_EQ4 = {0: 6, 1: 5, 2: 4}

_LEVELS = {
    "AV": {"N": 0.0, "A": 0.1, "L": 0.2, "P": 0.3}, "PR": {"N": 0.0, "L": 0.1, "H": 0.2},
    "UI": {"N": 0.0, "P": 0.1, "A": 0.2}, "AC": {"L": 0.0, "H": 0.1},
    "AT": {"N": 0.0, "P": 0.1}, "VC": {"H": 0.0, "L": 0.1, "N": 0.2},
    "VI": {"H": 0.0, "L": 0.1, "N": 0.2}, "VA": {"H": 0.0, "L": 0.1, "N": 0.2},
    "SC": {"H": 0.1, "L": 0.2, "N": 0.3}, "SI": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3},
    "SA": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3}, "CR": {"H": 0.0, "M": 0.1, "L": 0.2},
    "IR": {"H": 0.0, "M": 0.1, "L": 0.2}, "AR": {"H": 0.0, "M": 0.1, "L": 0.2},
}
_BASE = ("AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA")
_ALLOWED = {"AV": "NALP", "AC": "LH", "AT": "NP", "PR": "NLH", "UI": "NPA", "VC": "HLN",
            "VI": "HLN", "VA": "HLN", "SC": "HLN", "SI": "HLN", "SA": "HLN"}


def _metrics(vector: str) -> dict[str, str]:
    parts = vector.split("/")
    found: dict[str, str] = {}
    for part in parts[1:]:
        name, _, value = part.partition(":")
        if name in found:
            raise FindingsFormatError(f"CVSS vector {vector!r} repeats {name}")
        found[name] = value
    for name in _BASE:
        if found.get(name, "") == "" or found[name] not in _ALLOWED[name]:
            raise FindingsFormatError(f"CVSS vector {vector!r}: missing or bad {name}")
    # Base score only: requirements at their default (High), exploit maturity Attacked.
    base = {name: found[name] for name in _BASE}
    base.update({"CR": "H", "IR": "H", "AR": "H", "E": "A"})
    return base


def macro_vector(m: dict[str, str]) -> tuple[int, int, int, int, int, int]:
    av, pr, ui = m["AV"], m["PR"], m["UI"]
    if av == "N" and pr == "N" and ui == "N":
        eq1 = 0
    elif (av == "N" or pr == "N" or ui == "N") and av != "P":
        eq1 = 1
    else:
        eq1 = 2
    eq2 = 0 if m["AC"] == "L" and m["AT"] == "N" else 1
    vc, vi, va = m["VC"], m["VI"], m["VA"]
    eq3 = 0 if vc == "H" and vi == "H" else (1 if "H" in (vc, vi, va) else 2)
    eq4 = 0 if "S" in (m["SI"], m["SA"]) else (1 if "H" in (m["SC"], m["SI"], m["SA"]) else 2)
    eq5 = {"A": 0, "P": 1, "U": 2}[m["E"]]
    high = (m["CR"] == "H" and vc == "H") or (m["IR"] == "H" and vi == "H") or \
        (m["AR"] == "H" and va == "H")
    return eq1, eq2, eq3, eq4, eq5, 0 if high else 1


def _key(eqs: tuple[int, ...]) -> str:
    return "".join(str(e) for e in eqs)


def _lower_score(eqs: tuple[int, int, int, int, int, int], which: int) -> float | None:
    """Score of the next lower MacroVector along one EQ (3 = EQ3 and EQ6 together)."""
    e = list(eqs)
    if which != 3:
        e[which - 1] += 1
        return LOOKUP.get(_key(tuple(e)))
    eq3, eq6 = eqs[2], eqs[5]
    if (eq3, eq6) == (0, 0):
        left = LOOKUP.get(_key((*eqs[:5], eq6 + 1)))
        right = LOOKUP.get(_key((*eqs[:2], eq3 + 1, *eqs[3:])))
        found = [s for s in (left, right) if s is not None]
        return max(found) if found else None
    if (eq3, eq6) == (1, 0):
        return LOOKUP.get(_key((*eqs[:5], eq6 + 1)))
    if eq3 in (0, 1):
        return LOOKUP.get(_key((*eqs[:2], eq3 + 1, *eqs[3:])))
    return None


def _distances(m: dict[str, str], eqs: tuple[int, ...]) -> dict[str, float]:
    """Severity distance per metric from the first highest vector the vector is under."""
    candidates = [f"{a}/{b}/{c}/{d}" for a in _MAX_EQ1[eqs[0]] for b in _MAX_EQ2[eqs[1]]
                  for c in _MAX_EQ3[(eqs[2], eqs[5])] for d in _MAX_EQ4[eqs[3]]]
    distances: dict[str, float] = {}
    for candidate in candidates:
        top = dict(part.split(":") for part in candidate.split("/"))
        distances = {k: _LEVELS[k][m[k]] - _LEVELS[k][top[k]] for k in top}
        if all(d >= 0 for d in distances.values()):
            break
    return distances


def score_v4(vector: str) -> float:
    m = _metrics(vector.strip())
    if all(m[k] == "N" for k in ("VC", "VI", "VA", "SC", "SI", "SA")):
        return 0.0
    eqs = macro_vector(m)
    value = LOOKUP[_key(eqs)]
    d = _distances(m, eqs)
    current = {1: d["AV"] + d["PR"] + d["UI"], 2: d["AC"] + d["AT"],
               3: d["VC"] + d["VI"] + d["VA"] + d["CR"] + d["IR"] + d["AR"],
               4: d["SC"] + d["SI"] + d["SA"], 5: 0.0}
    depth = {1: _DEPTH_EQ1[eqs[0]], 2: _DEPTH_EQ2[eqs[1]],
             3: _DEPTH_EQ3EQ6[(eqs[2], eqs[5])], 4: _DEPTH_EQ4[eqs[3]], 5: 1}
    drops = []
    for which in (1, 2, 3, 4, 5):
        lower = _lower_score(eqs, which)
        if lower is not None:
            drops.append((value - lower) * current[which] / (depth[which] * 0.1))
    if drops:
        value -= sum(drops) / len(drops)
    value = min(max(value, 0.0), 10.0)
    return math.floor(value * 10 + 0.5 + 1e-9) / 10.0
