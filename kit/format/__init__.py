"""The kit file format: manifest, tar stream, writer and streaming reader. See docs/kit-format.md."""

from kit.format.limits import KitLimits
from kit.format.manifest import KIT_MANIFEST_TYPE, MANIFEST_PATH, Entry, Manifest
from kit.format.reader import KitReader, ReadResult, inspect_kit
from kit.format.writer import EntrySource, write_kit

__all__ = ["KIT_MANIFEST_TYPE", "MANIFEST_PATH", "Entry", "EntrySource", "KitLimits", "KitReader",
           "Manifest", "ReadResult", "inspect_kit", "write_kit"]
