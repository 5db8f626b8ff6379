"""Attachments are regular files inside the tree they are named in (issue 17, principle 10).

A symbolic link leaving the tree, a FIFO, a device or a link to one is refused by name,
at once (never opened, so never a hang), whether named directly or found in a folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bundler.build import build_kit
from bundler.errors import SpecError
from bundler.spec import load_spec
from kit.crypto import generate, write_key_dir
from kit.errors import KitIOError
from kit.format import EntrySource
from kit.format.writer import hash_source

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "site"


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    dest = tmp_path / "site"
    shutil.copytree(EXAMPLE, dest)
    return dest


def _attach(site: Path, *names: str) -> None:
    text = (site / "kit.yaml").read_text()
    listed = ", ".join(["files/notes.txt", *names])
    (site / "kit.yaml").write_text(text.replace("attachments: [files/notes.txt]", f"attachments: [{listed}]"))


def _build(site: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out.stella-kit"
    build_kit(load_spec(site / "kit.yaml"), [generate()], out)
    return out


def _refused(site: Path, tmp_path: Path, match: str) -> SpecError:
    started = time.monotonic()
    with pytest.raises(SpecError, match=match) as err:
        _build(site, tmp_path)
    assert time.monotonic() - started < 20
    assert not list(tmp_path.glob("*.stella-kit")) and not list(tmp_path.glob(".*.partial"))
    return err.value


def test_a_link_to_a_file_outside_the_tree_is_refused(site: Path, tmp_path: Path) -> None:
    (site / "files" / "shadow").symlink_to("/etc/shadow")
    _attach(site, "files/shadow")
    err = _refused(site, tmp_path, r"files/shadow is a symbolic link to /etc/shadow, outside")
    assert err.exit_code == 3


def test_a_link_leaving_a_folder_of_attachments_is_refused(site: Path, tmp_path: Path) -> None:
    (site / "docs").mkdir()
    (site / "docs" / "ok.txt").write_text("fine")
    (site / "docs" / "passwd").symlink_to("/etc/passwd")
    _attach(site, "docs")
    _refused(site, tmp_path, r"docs/passwd is a symbolic link to /etc/passwd, outside .*docs")


def test_a_relative_link_climbing_out_of_the_folder_is_refused(site: Path, tmp_path: Path) -> None:
    (site / "docs").mkdir()
    (site / "docs" / "up.txt").symlink_to("../kit.yaml")
    _attach(site, "docs")
    _refused(site, tmp_path, r"docs/up.txt is a symbolic link to .*kit.yaml, outside")


def test_a_link_to_a_folder_is_refused_not_silently_skipped(site: Path, tmp_path: Path) -> None:
    (site / "docs").mkdir()
    (site / "docs" / "etc").symlink_to("/etc")
    _attach(site, "docs")
    _refused(site, tmp_path, r"docs/etc is a symbolic link to /etc, outside")


def test_a_fifo_named_directly_is_refused_not_dropped(site: Path, tmp_path: Path) -> None:
    os.mkfifo(site / "files" / "pipe")
    _attach(site, "files/pipe")
    _refused(site, tmp_path, r"files/pipe is a FIFO, not a regular file")


def test_a_fifo_in_a_folder_is_refused_without_hanging(site: Path, tmp_path: Path) -> None:
    (site / "docs").mkdir()
    os.mkfifo(site / "docs" / "pipe")
    _attach(site, "docs")
    _refused(site, tmp_path, r"docs/pipe is a FIFO, not a regular file")


def test_a_link_to_dev_zero_is_refused(site: Path, tmp_path: Path) -> None:
    (site / "files" / "zero").symlink_to("/dev/zero")
    _attach(site, "files/zero")
    _refused(site, tmp_path, r"files/zero is a symbolic link to /dev/zero, outside")


def test_a_link_inside_the_tree_is_carried_as_the_file(site: Path, tmp_path: Path) -> None:
    (site / "docs").mkdir()
    (site / "docs" / "real.txt").write_text("the real file\n")
    (site / "docs" / "alias.txt").symlink_to("real.txt")
    _attach(site, "docs")
    spec = load_spec(site / "kit.yaml")
    result = build_kit(spec, [generate()], tmp_path / "out.stella-kit")
    sizes = {e.path: e.size for e in result.manifest.entries}
    assert sizes["attachments/docs/alias.txt"] == sizes["attachments/docs/real.txt"] == 14


def test_the_writer_itself_never_opens_a_fifo(tmp_path: Path) -> None:
    """The last line of defence: a file swapped for a FIFO after the checks fails at once."""
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(KitIOError, match="not a regular file"):
        hash_source(EntrySource("attachments/pipe", "text/plain", file=tmp_path / "pipe"), bytearray(1024))


def test_the_command_names_the_fifo_and_exits_3(site: Path, tmp_path: Path) -> None:
    os.mkfifo(site / "files" / "pipe")
    _attach(site, "files/pipe")
    keys = tmp_path / "keys"
    write_key_dir(keys, generate())
    done = subprocess.run([str(Path(sys.executable).parent / "stella-bundler"), "build", str(site / "kit.yaml"),
                           "--key", str(keys), "--out", str(tmp_path / "k.stella-kit"), "--no-progress"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1 and "files/pipe is a FIFO" in done.stderr


# --- the same rule for the other file inputs of kit.yaml: policy packs and VEX documents -----

def test_a_fifo_in_the_policy_pack_is_refused_without_hanging(site: Path, tmp_path: Path) -> None:
    os.mkfifo(site / "policy" / "stuck.rego")
    _refused(site, tmp_path, r"policy: .*policy/stuck.rego is a FIFO, not a regular file")


def test_a_policy_module_linking_out_of_the_pack_is_refused(site: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.rego"
    outside.write_text("package stella.gate\nimport rego.v1\ndeny := []\n")
    (site / "policy" / "sneaky.rego").symlink_to(outside)
    _refused(site, tmp_path, r"policy: .*sneaky.rego is a symbolic link to .*elsewhere.rego, outside")


def test_a_vex_document_that_is_a_fifo_or_links_out_is_refused(site: Path, tmp_path: Path) -> None:
    vex = site / "vex" / "site.openvex.json"
    vex.unlink()
    os.mkfifo(vex)
    _refused(site, tmp_path, r"vex: .*site.openvex.json is a FIFO, not a regular file")
    vex.unlink()
    vex.symlink_to("/etc/passwd")
    _refused(site, tmp_path, r"vex: .*site.openvex.json is a symbolic link to /etc/passwd, outside")


def test_a_folder_of_vex_documents_is_checked_file_by_file(site: Path, tmp_path: Path) -> None:
    """A folder named under ``vex:`` is read document by document: a FIFO or a link leaving it is refused
    by name (a FIFO named *.json would block a reader forever; a link would carry a file from elsewhere)."""
    folder = site / "vexdocs"
    folder.mkdir()
    shutil.copy(site / "vex" / "site.openvex.json", folder / "a.openvex.json")
    text = (site / "kit.yaml").read_text()
    (site / "kit.yaml").write_text(text.replace("vex/site.openvex.json", "vexdocs"))
    _build(site, tmp_path).unlink()                                 # a plain folder builds
    os.mkfifo(folder / "b.json")
    _refused(site, tmp_path, r"vex: .*b.json is a FIFO, not a regular file")
    (folder / "b.json").unlink()
    (folder / "c.json").symlink_to("/etc/passwd")
    _refused(site, tmp_path, r"vex: .*c.json is a symbolic link to /etc/passwd, outside")
