"""Stella kit: the pure functional core shared by both sides of the air gap.

Formats (kit, DSSE, trust roots), canonical JSON, digests, crypto profiles and the
deterministic evaluations an auditor replays. No database, no network, no Docker.
"""

__version__ = "0.1.0"
