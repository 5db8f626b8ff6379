"""Which parts of the Rego input document a policy pack can read: a conservative static scan.

The policy gate hands regopy only what the pack can observe (docs/gates.md, "How the
evaluation runs"). This module decides what that is, from the pack's own tokens, and
answers "everything" (``None``) whenever it is not sure. The rules, all of which must hold
or nothing is pruned:

- every reference to the root ``input`` (an identifier ``input`` not preceded by ``.``) is
  ``input.<key>`` with a literal key — ``input`` alone, ``input[...]``, ``import input``,
  ``with input as …``, ``walk(input, …)`` all keep the whole document. Top-level keys that
  are never named cannot be observed and are left out.
- a key's *elements* (the values of an array or object) are pruned to the fields named
  only when every occurrence of ``input.<key>`` is ``some [i,] v in input.<key>`` /
  ``every [i,] v in input.<key>`` (not followed by ``.`` or ``[``) or ``count(input.<key>)``,
  and every occurrence anywhere in the pack of each such ``v`` (outside ``some``/``every``
  declarations) is ``v.<field>`` with a literal field. The fields kept are the union of all
  those names (a superset when a name is reused for another variable); their values stay
  whole. Anything else (``v`` passed to a function, printed with ``%v``, compared whole,
  ``v[k]``, ``input.<key>[i]``, ``object.keys(input.<key>)`` …) keeps the key's elements whole.
- a token the scanner does not know (``$``, ``'``, an unterminated string …) keeps the
  whole document.

Within those rules an element field that is not named cannot be reached, so the pruned
document gives the same result (tested against the full one, tests/kit/gates).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<num>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>:=|==|!=|<=|>=|[{}\[\]().,;:=<>+\-*/%|&!])
""", re.VERBOSE)
_SOME = ("some", "every")


@dataclass(frozen=True)
class Needs:
    """What of the input document a pack can observe."""

    keys: frozenset[str]                          # top-level keys named as input.<key>
    fields: Mapping[str, tuple[str, ...]]         # key -> element fields read (sorted); absent: elements whole


def _lex(text: str) -> tuple[list[str], list[bool]] | None:
    """Tokens without blanks, comments and the text of strings, and whether each starts a line."""
    out: list[str] = []
    starts: list[bool] = []
    pos, line_start = 0, True
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            return None
        kind = match.lastgroup
        if kind in ("ws", "comment"):
            line_start = line_start or "\n" in match.group() or kind == "comment"
        else:
            out.append('""' if kind in ("str", "raw") else match.group())
            starts.append(line_start)
            line_start = False
        pos = match.end()
    return out, starts


def tokens(text: str) -> list[str] | None:
    """The pack's tokens without blanks, comments and the text of strings; None if unsure."""
    lexed = _lex(text)
    return None if lexed is None else lexed[0]


def _after_parens(toks: list[str], at: int) -> str:
    """The token after the parenthesis opened at *at* closes ("" at the end)."""
    depth = 0
    for j in range(at, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[j], 0)
        if depth == 0:
            return toks[j + 1] if j + 1 < len(toks) else ""
    return ""


def calls(texts: Iterable[str]) -> tuple[frozenset[str], frozenset[str]] | None:
    """(names called as functions, dotted as written; functions the pack defines), None if unsure.

    A function the pack defines is a name that starts a line followed by ``(…)`` and ``:=``,
    ``=``, ``if`` or ``{`` (a rule head ``f(x) := …``); a call is ``name(`` or ``a.b.c(``
    anywhere else.
    """
    called: set[str] = set()
    defined: set[str] = set()
    for text in texts:
        lexed = _lex(text)
        if lexed is None:
            return None
        toks, starts = lexed
        for at, tok in enumerate(toks):
            if not _ident(tok) or (at and toks[at - 1] == "."):
                continue
            end = at
            while end + 2 < len(toks) and toks[end + 1] == "." and _ident(toks[end + 2]):
                end += 2
            if end + 1 < len(toks) and toks[end + 1] == "(":
                name = "".join(toks[at:end + 1])
                if starts[at] and end == at and _after_parens(toks, end + 1) in (":=", "=", "if", "{"):
                    defined.add(name)
                else:
                    called.add(name)
    return frozenset(called), frozenset(defined)


def _ident(tok: str) -> bool:
    return tok[:1].isalpha() or tok[:1] == "_"


def _binding(toks: list[str], at: int) -> int | None:
    """Index of v when toks[at] is ``input`` in ``some|every [i,] v in input``, else None."""
    if at < 3 or toks[at - 1] != "in" or not _ident(toks[at - 2]):
        return None
    if toks[at - 3] in _SOME:
        return at - 2
    if at >= 5 and toks[at - 3] == "," and _ident(toks[at - 4]) and toks[at - 5] in _SOME:
        return at - 2
    return None


def _declared(toks: list[str]) -> set[int]:
    """Positions of every variable declared by ``some|every [i,] v in``."""
    out: set[int] = set()
    for at, tok in enumerate(toks):
        if tok in _SOME:
            j = at + 1
            while j + 1 < len(toks) and _ident(toks[j]) and toks[j + 1] in (",", "in"):
                out.add(j)
                if toks[j + 1] == "in":
                    break
                j += 2
    return out


def scan(texts: Iterable[str]) -> Needs | None:
    """The parts of ``input`` the modules *texts* can read, or None: the whole document."""
    modules: list[list[str]] = []
    for text in texts:
        toks = tokens(text)
        if toks is None:
            return None
        modules.append(toks + ["", "", ""])       # sentinels: lookahead never runs off the end
    keys: set[str] = set()
    whole: set[str] = set()
    loop_vars: dict[str, set[str]] = {}           # key -> variables bound by some/every over it
    for toks in modules:
        for at, tok in enumerate(toks):
            if tok != "input" or (at and toks[at - 1] == "."):
                continue
            if toks[at + 1] != "." or not _ident(toks[at + 2]):
                return None
            key = toks[at + 2]
            keys.add(key)
            elementwise = toks[at + 3] not in (".", "[")
            var = _binding(toks, at)
            if elementwise and var is not None:
                if toks[var] != "_":
                    loop_vars.setdefault(key, set()).add(toks[var])
            elif not (elementwise and toks[at + 3] == ")" and at >= 2 and toks[at - 2: at] == ["count", "("]
                      and (at < 3 or toks[at - 3] != ".")):
                whole.add(key)
    wanted = {v for names in loop_vars.values() for v in names}
    used: dict[str, set[str]] = {v: set() for v in wanted}
    for toks in modules:
        declared = _declared(toks)
        for at, tok in enumerate(toks):
            if tok not in used or (at and toks[at - 1] == ".") or at in declared:
                continue
            if toks[at + 1] == "." and _ident(toks[at + 2]):
                used[tok].add(toks[at + 2])
            else:                                 # the element itself is observed: keep its keys' elements whole
                whole.update(k for k, names in loop_vars.items() if tok in names)
    fields = {k: tuple(sorted(set().union(*(used[v] for v in loop_vars.get(k, ())))))
              for k in keys if k not in whole}
    return Needs(frozenset(keys), fields)


def _element(value: Any, names: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {n: value[n] for n in names if n in value}
    return value


def prune(doc: Mapping[str, Any], needs: Needs | None) -> dict[str, Any]:
    """The part of *doc* the pack can observe (all of it when *needs* is None)."""
    if needs is None:
        return dict(doc)
    out: dict[str, Any] = {}
    for key in sorted(needs.keys):
        if key not in doc:
            continue
        value = doc[key]
        names = needs.fields.get(key)
        if names is not None and isinstance(value, list):
            value = [_element(e, names) for e in value]
        elif names is not None and isinstance(value, dict):
            value = {k: _element(e, names) for k, e in value.items()}
        out[key] = value
    return out
