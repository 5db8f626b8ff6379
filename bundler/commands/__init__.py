"""The ``stella-bundler`` subcommands, one module per concept, imported on first use."""

from __future__ import annotations

LAZY: dict[str, tuple[str, str]] = {
    "keygen": ("bundler.commands.keys", "keygen"),
    "trust": ("bundler.commands.trust", "trust"),
    "build": ("bundler.commands.build", "build"),
    "inspect": ("bundler.commands.inspect", "inspect"),
    "diff": ("bundler.commands.diff", "diff"),
    "sbom": ("bundler.commands.sbom", "sbom"),
}
