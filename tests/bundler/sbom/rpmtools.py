"""Real rpmdbs for the RPM cataloger's tests, made by Debian's ``rpm`` (the oracle).

- packages: tiny real ``.rpm`` files built by ``rpmbuild`` from specs;
- SQLite: ``rpm --initdb`` then ``rpm -i --justdb --nodeps`` into a private ``--dbpath``;
- Berkeley DB: Debian's rpm reads BDB (``bdb_ro``) but cannot write it, so the header
  blobs rpm stored in SQLite are loaded into a hash database by ``db5.3_load`` (key: the
  4-byte instance number, as rpm keys ``Packages``; key 0 is rpm's counter), and rpm
  reads that file back (``query``) before a test may use it;
- NDB: Debian's rpm is built without NDB (``invalid %_db_backend: ndb``), so it can
  neither write nor read one; :func:`write_ndb` lays the same real blobs out as rpm's
  ``rpmpkg.c`` does (slots, blob head/tail, Adler-32), and the expected fields come from
  rpm's answer for the same blobs in SQLite. (A real SUSE Packages.db is the missing sample.)

``query`` is the oracle: ``rpm --dbpath D -qa --qf …`` for every field the cataloger reads.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

QF = "%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SOURCERPM}|%{VENDOR}|%{LICENSE}\\n"
FIELDS = "%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SOURCERPM}|%{VENDOR}|%{LICENSE}"


def need_rpm() -> None:
    """Skip without Debian's rpm and db5.3-util, except under CI=true (then fail)."""
    missing = [t for t in ("rpm", "rpmbuild", "db5.3_load") if shutil.which(t) is None]
    if missing:
        what = f"{', '.join(missing)} (Debian packages rpm, db5.3-util; ./build.sh installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is not available, and CI=true requires it")
        pytest.skip(f"{what} is not available")


@dataclass(frozen=True)
class Spec:
    """One package to build: fields rpm records, and how many files (a bigger header)."""

    name: str
    version: str
    release: str
    epoch: int | None = None
    arch: str = "x86_64"
    license: str = "MIT"
    vendor: str | None = "Red Hat, Inc."
    files: int = 0

    def text(self) -> str:
        lines = [f"Name: {self.name}", f"Version: {self.version}", f"Release: {self.release}",
                 f"Summary: {self.name} for the stella tests", f"License: {self.license}",
                 f"BuildArch: {self.arch}"]
        if self.epoch is not None:
            lines.append(f"Epoch: {self.epoch}")
        if self.vendor:
            lines.append(f"Vendor: {self.vendor}")
        install = "\n".join(f"echo {i} > %{{buildroot}}/usr/share/{self.name}/file-{i:04d}.txt"
                            for i in range(self.files))
        files = f"/usr/share/{self.name}\n" if self.files else ""
        return ("\n".join(lines) + "\n%description\ntest package\n"
                f"%install\nmkdir -p %{{buildroot}}/usr/share/{self.name}\n{install}\n"
                f"%files\n{files}")


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise AssertionError(f"{' '.join(args)}: exit {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def build_rpm(spec: Spec, top: Path) -> Path:
    """``rpmbuild -bb`` of *spec* under *top*; the .rpm file."""
    (top / "SPECS").mkdir(parents=True, exist_ok=True)
    path = top / "SPECS" / f"{spec.name}-{spec.version}-{spec.release}.spec"
    path.write_text(spec.text(), encoding="utf-8")
    run("rpmbuild", "--define", f"_topdir {top}", "--define", "_build_id_links none",
        "--quiet", "-bb", str(path))
    evr = f"{spec.version}-{spec.release}"
    return top / "RPMS" / spec.arch / f"{spec.name}-{evr}.{spec.arch}.rpm"


def sqlite_db(dbpath: Path, rpms: list[Path]) -> Path:
    """A real rpmdb.sqlite with *rpms* installed (``--justdb``: no files written)."""
    dbpath.mkdir(parents=True, exist_ok=True)
    run("rpm", "--dbpath", str(dbpath), "--initdb")
    if rpms:
        run("rpm", "--dbpath", str(dbpath), "-i", "--justdb", "--nodeps", "--ignorearch",
            "--ignoreos", *map(str, rpms))
    return dbpath / "rpmdb.sqlite"


def query(dbpath: Path, backend: str = "sqlite") -> list[str]:
    """The oracle: rpm's own answer for every field, one ``|``-joined line per package."""
    out = run("rpm", "--dbpath", str(dbpath), "--define", f"_db_backend {backend}", "-qa",
              "--qf", QF)
    return sorted(out.splitlines())


def header_blobs(sqlite_file: Path) -> list[tuple[int, bytes]]:
    """(instance number, header blob) as rpm stored them."""
    conn = sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True)
    try:
        return [(int(n), bytes(b)) for n, b in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")]
    finally:
        conn.close()


def bdb_db(dbpath: Path, blobs: list[tuple[int, bytes]], *, pagesize: int = 4096,
           big_endian: bool = False) -> Path:
    """A Berkeley DB hash ``Packages`` made by ``db5.3_load`` from real header blobs."""
    dbpath.mkdir(parents=True, exist_ok=True)
    order = ">" if big_endian else "<"
    top = max((n for n, _ in blobs), default=0)
    lines = ["VERSION=3", "format=bytevalue", "type=hash", f"db_pagesize={pagesize}",
             f"db_lorder={4321 if big_endian else 1234}", "HEADER=END",
             " " + struct.pack(order + "I", 0).hex(), " " + struct.pack(order + "I", top + 1).hex()]
    for number, blob in blobs:
        lines += [" " + struct.pack(order + "I", number).hex(), " " + blob.hex()]
    lines.append("DATA=END")
    dump = dbpath / "dump.txt"
    dump.write_text("\n".join(lines) + "\n", encoding="ascii")
    target = dbpath / "Packages"
    run("db5.3_load", "-f", str(dump), str(target))
    dump.unlink()
    return target


def write_ndb(path: Path, blobs: list[tuple[int, bytes]]) -> Path:
    """An NDB Packages.db laid out as rpm's rpmpkg.c writes it (see the module docstring)."""
    page, block = 4096, 16
    slots = bytearray(page)
    struct.pack_into("<4sIIII", slots, 0, b"RpmP", 0, 1, 1, max((n for n, _ in blobs), default=0) + 1)
    for pos in range(32, page, 16):
        struct.pack_into("<4s", slots, pos, b"Slot")
    body, offset = bytearray(), page // block
    for i, (number, blob) in enumerate(blobs):
        count = (16 + len(blob) + 12 + block - 1) // block
        head = struct.pack("<4sIII", b"BlbS", number, 1700000000, len(blob))
        padded = head + blob + b"\0" * (count * block - 16 - len(blob) - 12)
        body += padded + struct.pack("<II4s", zlib.adler32(padded), len(blob), b"BlbE")
        struct.pack_into("<4sIII", slots, 32 + 16 * i, b"Slot", number, offset, count)
        offset += count
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(slots) + bytes(body))
    return path


SPECS = (
    Spec("openssl", "3.0.7", "24.el9", epoch=1, license="Apache-2.0"),
    Spec("bash", "5.1.8", "9.el9", license="GPL-3.0-or-later"),
    Spec("tzdata", "2024a", "1.el9", arch="noarch", license="LicenseRef-Fedora-Public-Domain"),
    Spec("stella-big", "1.0", "1.el9", epoch=0, license="MIT and BSD", vendor=None, files=400),
)


def expected_line(fields: list[str | None]) -> str:
    """A cataloged package as the oracle prints it (``(none)`` for an absent tag)."""
    return "|".join("(none)" if f is None else f for f in fields)
