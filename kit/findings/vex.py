"""VEX consensus: the effective status of a finding from the OpenVEX statements about it.

The rule set (docs/vex-consensus.md):

1. A statement applies when its vulnerability (name or aliases) is one of the finding's
   ids or aliases, and one of its products is the component (purl equal, where a
   product purl without version or qualifiers covers every version / qualifier set) or
   an image the component was found in (``pkg:oci/…@sha256:…`` or the bare digest) —
   for the whole image, or only for the subcomponents it lists.
2. Statements from issuers in no trust tier are shown as ``untrusted`` and not used.
3. ``not_affected`` without a justification is refused (shown as ``rejected``).
4. Per issuer, the newest statement wins; older ones are ``overridden``.
5. Across issuers, the highest trust tier wins; lower tiers are ``overridden``.
6. Within the winning tier, agreeing statements are all ``used``; disagreeing ones are
   all kept and shown as ``conflict`` and the more cautious status wins
   (affected > under_investigation > fixed > not_affected).
7. ``not_affected`` and ``fixed`` suppress the finding; ``affected`` (with its action
   statement) and ``under_investigation`` leave it a finding.
"""

from __future__ import annotations

from collections.abc import Iterable

from packageurl import PackageURL

from kit.findings.component import Component
from kit.findings.errors import FindingsError
from kit.findings.names import normalize
from kit.findings.versions import scheme_for
from kit.findings.vex_model import CAUTION, Considered, Decision, Statement, TrustTiers


def _purl(text: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def _same_version(purl_type: str, a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        scheme = scheme_for(purl_type)
        return bool(scheme.parse(a) == scheme.parse(b))
    except FindingsError:  # unknown type or invalid version: only exact text counts
        return False


def purl_covers(product: str, purl: str, version: str) -> bool:
    """True when *product* names the component *purl*: same package, and the product's
    version and qualifiers (when it states them) equal the component's."""
    want, have = _purl(product), _purl(purl)
    if want is None or have is None or want.type != have.type:
        return False
    if (want.namespace or "").lower() != (have.namespace or "").lower() or \
            normalize(want.type, want.name) != normalize(have.type, have.name):
        return False
    if want.version and not _same_version(want.type, want.version, have.version or version):
        return False
    theirs = have.qualifiers if isinstance(have.qualifiers, dict) else {}
    mine = want.qualifiers if isinstance(want.qualifiers, dict) else {}
    return all(theirs.get(k) == v for k, v in mine.items())


def _digest(text: str) -> str:
    """The sha256 digest an image reference carries (purl version or bare digest)."""
    if text.startswith("sha256:"):
        return text
    found = _purl(text)
    if found is not None and found.type == "oci" and (found.version or "").startswith("sha256:"):
        return found.version or ""
    return ""


def applies(statement: Statement, ids: frozenset[str], comp: Component) -> bool:
    """Rule 1: the statement is about this vulnerability and this component."""
    if not statement.ids & ids:
        return False
    images = {_digest(loc.image) for loc in comp.locations} - {""}
    for product in statement.products:
        if purl_covers(product.id, comp.purl, comp.version):
            return True
        digest = _digest(product.id)
        if digest and digest in images:
            if not product.subcomponents or any(
                    purl_covers(sub, comp.purl, comp.version) for sub in product.subcomponents):
                return True
    return False


def _caution(status: str) -> int:
    return CAUTION.index(status)


def _newest_per_issuer(candidates: list[tuple[Statement, int, str]]
                       ) -> tuple[list[tuple[Statement, int, str]], list[Considered]]:
    """Rule 4. Ties in time go to the more cautious statement, then the lower ref."""
    winners: dict[str, tuple[Statement, int, str]] = {}
    for item in sorted(candidates, key=lambda c: (c[0].issuer, c[0].timestamp,
                                                  -_caution(c[0].status), c[0].ref)):
        winners[item[0].issuer] = item  # sorted ascending: the last one per issuer wins
    losers = [Considered(s.ref, s.issuer, tier, s.status, "overridden",
                         f"a newer statement by the same issuer ({winners[s.issuer][0].ref})")
              for s, _, tier in candidates if winners[s.issuer][0] is not s]
    return sorted(winners.values(), key=lambda c: c[0].ref), losers


def _screen(statements: Iterable[Statement], tiers: TrustTiers
            ) -> tuple[list[tuple[Statement, int, str]], list[Considered]]:
    """Rules 2 and 3: drop untrusted issuers and unjustified not_affected."""
    kept, shown = [], []
    for s in statements:
        rank = tiers.rank(s.issuer)
        if rank is None:
            shown.append(Considered(s.ref, s.issuer, "", s.status, "untrusted",
                                    "issuer is in no trust tier"))
        elif s.status == "not_affected" and not s.justification:
            shown.append(Considered(s.ref, s.issuer, rank[1], s.status, "rejected",
                                    "not_affected without a justification"))
        else:
            kept.append((s, rank[0], rank[1]))
    return kept, shown


def decide(statements: Iterable[Statement], tiers: TrustTiers) -> Decision:
    """Rules 2–7 over the statements that apply to one finding."""
    kept, shown = _screen(statements, tiers)
    if not kept:
        reason = "no usable VEX statement applies" if shown else "no VEX statement applies"
        return Decision("none", reason, considered=tuple(sorted(shown, key=lambda c: c.ref)))
    winners, older = _newest_per_issuer(kept)
    shown += older
    top = min(rank for _, rank, _ in winners)
    best = [w for w in winners if w[1] == top]
    shown += [Considered(s.ref, s.issuer, tier, s.status, "overridden",
                         f"a higher trust tier ({best[0][2]}) decided")
              for s, rank, tier in winners if rank != top]
    status = min((s.status for s, _, _ in best), key=_caution)
    conflict = len({s.status for s, _, _ in best}) > 1
    used = [s for s, _, _ in best if s.status == status]
    for s, _, tier in best:
        outcome = "conflict" if conflict else "used"
        why = "same-tier issuers disagree; the more cautious status wins" if conflict else \
            "newest statement of its issuer in the highest tier present"
        shown.append(Considered(s.ref, s.issuer, tier, s.status, outcome, why))
    return Decision(
        status=status, reason=_reason(status, best[0][2], used, conflict),
        used=tuple(s.ref for s in used), conflict=conflict,
        justification="; ".join(sorted({s.justification for s in used if s.justification})),
        action_statement="; ".join(sorted({s.action_statement for s in used
                                           if s.action_statement})),
        considered=tuple(sorted(shown, key=lambda c: c.ref)))


def _reason(status: str, tier: str, used: list[Statement], conflict: bool) -> str:
    issuers = ", ".join(sorted({s.issuer for s in used}))
    text = f"{status} per {issuers} (tier {tier})"
    return text + "; conflicting statements in that tier resolved to the more cautious status" \
        if conflict else text


def apply_vex(ids: frozenset[str], comp: Component, statements: Iterable[Statement],
              tiers: TrustTiers) -> Decision:
    """The decision for one finding (its ids and component) under the rule set."""
    return decide([s for s in statements if applies(s, ids, comp)], tiers)
