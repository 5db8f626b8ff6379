"""Go modules from the build information embedded in Go binaries (Go 1.18 and later).

The layer reader hands this cataloger, for every executable ELF file, only the bytes
of the build info (found within ``gobuildinfo.WINDOW`` of the magic), never the binary. Each
binary gives the Go standard library it was linked with (``pkg:golang/stdlib@1.22.3``,
the name and version OSV's Go ecosystem uses), its main module when it has a released
version (not ``(devel)``), and every dependency with ``=>`` replacements applied.
"""

from __future__ import annotations

from collections.abc import Mapping

from packageurl import PackageURL

from bundler.sbom import gobuildinfo
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro
from bundler.sbom.probe import Probe

ELF = b"\x7fELF"
PROBE = Probe(head=ELF, magic=gobuildinfo.MAGIC, window=gobuildinfo.WINDOW, align=16,
              measure=gobuildinfo.size)


def _purl(path: str, version: str) -> str:
    namespace, _, name = path.rpartition("/")
    return PackageURL("golang", namespace or None, name, version).to_string()


class GoCataloger:
    """Modules compiled into Go binaries."""

    name = "go-binary"
    probe = PROBE

    def wants(self, path: str) -> bool:
        """Go binaries are found by content (see layers.py), not by path."""
        return False

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        out = []
        for path in sorted(p for p, f in files.items() if f.data.startswith(gobuildinfo.MAGIC)):
            kept = files[path]
            info = gobuildinfo.parse(kept.data)
            if info is None:
                continue
            stdlib = info.go_version.removeprefix("go").split(" ")[0]
            mods = [("stdlib", stdlib)]
            if info.main is not None and info.main.version not in ("", "(devel)"):
                mods.append((info.main.path, info.main.version))
            mods += [(d.path, d.version) for d in info.deps if d.version]
            for mod_path, version in dict.fromkeys(mods):
                out.append(Component(_purl(mod_path, version), mod_path, version, "golang", path,
                                     kept.layer, (), self.name))
        return out
