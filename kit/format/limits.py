"""Limits applied before and while a kit is read, so hostile input stays bounded.

Defaults are generous for real kits (a few hundred GiB of images) and small enough that
memory stays flat: no limit here is ever allocated, they only stop reading early.
"""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True)
class KitLimits:
    max_manifest_bytes: int = 64 * MiB      # the DSSE envelope is read into memory to parse it
    max_entries: int = 1_000_000
    max_entry_size: int = 256 * GiB
    max_total_size: int = 1024 * GiB        # sum of declared entry sizes
    max_window_size: int = 128 * MiB        # zstd window the decoder may allocate
    max_pax_bytes: int = 64 * 1024          # a pax extended header's records
