"""VEX statements read from CSAF or CycloneDX, and their OpenVEX 0.2.0 form.

``kit.findings.csaf`` and ``kit.findings.cyclonedx_vex`` map their documents to a
``ForeignVex``; ``to_openvex`` writes it as an OpenVEX document, the one form of VEX the
kit carries and the consensus reads (docs/vex.md). The mapping keeps what OpenVEX has
room for: product purls with their CPEs as identifiers, justifications, impact and
action statements, status notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0"


@dataclass(frozen=True, order=True)
class ForeignProduct:
    id: str                   # a purl when the source names one, else a CPE, else a urn naming it
    purl: str = ""
    cpe: str = ""

    def to_openvex(self) -> dict[str, Any]:
        out: dict[str, Any] = {"@id": self.id}
        identifiers: dict[str, str] = {}
        if self.purl:
            identifiers["purl"] = self.purl
        if self.cpe.startswith("cpe:2.3:"):
            identifiers["cpe23"] = self.cpe
        elif self.cpe.startswith("cpe:/"):
            identifiers["cpe22"] = self.cpe
        if identifiers:
            out["identifiers"] = identifiers
        return out


@dataclass(frozen=True)
class ForeignStatement:
    vulnerability: str
    aliases: tuple[str, ...]
    products: tuple[ForeignProduct, ...]
    status: str               # an OpenVEX status
    timestamp: str            # RFC 3339
    justification: str = ""
    impact_statement: str = ""
    action_statement: str = ""
    status_notes: str = ""

    def to_openvex(self) -> dict[str, Any]:
        vuln: dict[str, Any] = {"name": self.vulnerability}
        if self.aliases:
            vuln["aliases"] = list(self.aliases)
        out: dict[str, Any] = {"vulnerability": vuln, "timestamp": self.timestamp,
                               "products": [p.to_openvex() for p in self.products], "status": self.status}
        for key in ("justification", "impact_statement", "action_statement", "status_notes"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class ForeignVex:
    id: str                   # the OpenVEX @id: an IRI naming the source document
    author: str               # the issuer the consensus ranks by trust tier
    timestamp: str
    version: int
    tooling: str              # "CSAF 2.0 …" / "CycloneDX …": where the statements came from
    statements: tuple[ForeignStatement, ...]

    def to_openvex(self) -> dict[str, Any]:
        """The OpenVEX 0.2.0 document (a JSON value; canonical JSON makes it bytes)."""
        return {"@context": OPENVEX_CONTEXT, "@id": self.id, "author": self.author,
                "timestamp": self.timestamp, "version": self.version, "tooling": self.tooling,
                "statements": [s.to_openvex() for s in self.statements]}
