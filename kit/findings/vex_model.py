"""VEX data: statements as loaded from OpenVEX, trust tiers, and consensus decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

STATUSES = ("not_affected", "affected", "fixed", "under_investigation")
# Most cautious first: a same-tier conflict resolves to the earliest status here.
CAUTION = ("affected", "under_investigation", "fixed", "not_affected")
SUPPRESSING = ("not_affected", "fixed")


@dataclass(frozen=True)
class Product:
    id: str  # a purl (pkg:oci/…@sha256:… for an image, or a component purl) or a digest
    subcomponents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    file: str
    document: str  # the OpenVEX document's @id
    index: int  # position in the document's statements list
    issuer: str  # the document author (or the statement's supplier when given)
    timestamp: datetime  # the statement's own timestamp, else the document's
    vulnerability: str
    vuln_aliases: tuple[str, ...]
    products: tuple[Product, ...]
    status: str
    justification: str = ""
    impact_statement: str = ""
    action_statement: str = ""

    @property
    def ref(self) -> str:
        """A stable name for the statement in results: ``DOCUMENT#INDEX``."""
        return f"{self.document}#{self.index}"

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.vulnerability, *self.vuln_aliases))

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "file": self.file, "issuer": self.issuer,
                "timestamp": self.timestamp.isoformat(), "vulnerability": self.vulnerability,
                "status": self.status, "justification": self.justification,
                "impact_statement": self.impact_statement,
                "action_statement": self.action_statement}


@dataclass(frozen=True)
class Tier:
    name: str
    issuers: tuple[str, ...]  # exact issuer strings; "*" matches any issuer


@dataclass(frozen=True)
class TrustTiers:
    """Issuer trust tiers, highest first, as the appliance admin configures them."""

    tiers: tuple[Tier, ...]

    @classmethod
    def default(cls) -> TrustTiers:
        """Without configuration every issuer sits in one tier."""
        return cls((Tier("default", ("*",)),))

    def rank(self, issuer: str) -> tuple[int, str] | None:
        """(rank, tier name) with 0 the highest; None when no tier admits the issuer."""
        for position, tier in enumerate(self.tiers):
            if issuer in tier.issuers:
                return position, tier.name
        for position, tier in enumerate(self.tiers):
            if "*" in tier.issuers:
                return position, tier.name
        return None


@dataclass(frozen=True)
class Considered:
    """A statement that applied to a finding, and what consensus did with it."""

    ref: str
    issuer: str
    tier: str
    status: str
    outcome: str  # used | conflict | overridden | rejected | untrusted
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "issuer": self.issuer, "tier": self.tier,
                "status": self.status, "outcome": self.outcome, "why": self.why}


@dataclass(frozen=True)
class Decision:
    """The effective VEX status of a finding and the statements that produced it."""

    status: str  # one of STATUSES, or "none" when no statement applies
    reason: str
    used: tuple[str, ...] = ()
    conflict: bool = False
    justification: str = ""
    action_statement: str = ""
    considered: tuple[Considered, ...] = ()

    @classmethod
    def none(cls) -> Decision:
        return cls("none", "no VEX statement applies")

    @property
    def suppressed(self) -> bool:
        return self.status in SUPPRESSING

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "suppressed": self.suppressed, "reason": self.reason,
                "used": list(self.used), "conflict": self.conflict,
                "justification": self.justification, "action_statement": self.action_statement,
                "considered": [c.to_dict() for c in self.considered]}
