"""Building kits from kit.yaml: contents, determinism, atomic output, kit.yaml errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bundler.build import build_kit
from bundler.errors import SpecError
from bundler.spec import load_spec
from kit.crypto import generate, write_key_dir
from kit.errors import KitIOError
from kit.format import KitReader
from tests.kit.conftest import make_root
from tests.kit.craft import AT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "site"


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    """A copy of the example kit folder."""
    dest = tmp_path / "site"
    shutil.copytree(EXAMPLE, dest)
    return dest


def test_example_kit_carries_every_input_by_kind(site: Path, tmp_path: Path) -> None:
    key = generate()
    result = build_kit(load_spec(site / "kit.yaml"), [key], tmp_path / "site.stella-kit")
    paths = {e.path: e.media_type for e in result.manifest.entries}
    assert paths == {
        "advisories/records.ndjson": "application/vnd.stella.advisories+ndjson",
        "advisories/sources.json": "application/vnd.stella.advisory-sources+json",
        "attachments/notes.txt": "text/plain",
        "policy/data.json": "application/json",
        "policy/gate.rego": "application/vnd.stella.rego",
        "provenance/build.intoto.dsse.json": "application/vnd.in-toto.provenance+dsse",
        "vex/site.openvex.json": "application/vnd.openvex+json",
    }
    check = KitReader(result.path).verify(trust=make_root([key], 1), at=AT)
    assert check.ok and check.entries_verified == 7


def test_provenance_names_every_other_entry_and_every_input(site: Path, tmp_path: Path) -> None:
    from bundler.sources import verify_provenance
    from kit.format.reader import KitReader as Reader
    key = generate()
    result = build_kit(load_spec(site / "kit.yaml"), [key], tmp_path / "site.stella-kit")
    grabbed: dict[str, bytes] = {}

    class Sink:
        def open(self, entry):  # type: ignore[no-untyped-def]
            if entry.path != "provenance/build.intoto.dsse.json":
                return None
            class W:
                def write(self, chunk: memoryview) -> None:
                    grabbed[entry.path] = grabbed.get(entry.path, b"") + bytes(chunk)
                def close(self, verified: bool) -> None:
                    assert verified
            return W()

    assert Reader(result.path).verify(trust=make_root([key], 1), at=AT, sink=Sink()).ok
    statement = verify_provenance(grabbed["provenance/build.intoto.dsse.json"], {key.keyid: key.public_key})
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    others = {e.path: e.sha256 for e in result.manifest.entries if not e.path.startswith("provenance/")}
    assert subjects == others
    deps = {d["uri"] for d in statement["predicate"]["buildDefinition"]["resolvedDependencies"]}
    assert {"file:policy/gate.rego", "file:files/notes.txt", "file:vex/site.openvex.json",
            "file:osv/GHSA-example-0001.json"} <= deps


def _build_in_subprocess(site: Path, keys: Path, out: Path, cwd: Path, env: dict[str, str], umask: int) -> bytes:
    code = (f"import os,sys; os.umask({umask}); from bundler.cli import main; "
            f"sys.argv=['stella-bundler','build',{str(site / 'kit.yaml')!r},'--key',{str(keys)!r},"
            f"'--out',{str(out)!r},'--no-progress']; main()")
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    full_env.pop("SOURCE_DATE_EPOCH", None)
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full_env, check=True, capture_output=True)
    return out.read_bytes()


def test_same_kit_yaml_gives_byte_identical_kits_whatever_the_environment(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    write_key_dir(keys, generate())
    one, two = tmp_path / "one" / "site", tmp_path / "elsewhere" / "deeper" / "site"
    shutil.copytree(EXAMPLE, one)
    shutil.copytree(EXAMPLE, two)
    for i, f in enumerate(sorted(p for p in two.rglob("*") if p.is_file())):
        os.utime(f, (1_000_000 + i, 1_000_000 + i))      # different file times
        os.chmod(f, 0o600)                                 # and modes
    (tmp_path / "cwd1").mkdir()
    (tmp_path / "cwd2").mkdir()
    a = _build_in_subprocess(one, keys, tmp_path / "a.stella-kit", tmp_path / "cwd1",
                             {"TZ": "UTC", "LANG": "C", "LC_ALL": "C", "PYTHONHASHSEED": "0"}, 0o022)
    b = _build_in_subprocess(two, keys, tmp_path / "b.stella-kit", tmp_path / "cwd2",
                             {"TZ": "Pacific/Kiritimati", "LANG": "de_DE.UTF-8", "LC_ALL": "tr_TR.UTF-8",
                              "PYTHONHASHSEED": "4242"}, 0o077)
    assert a == b


def test_source_date_epoch_overrides_created(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    spec = load_spec(site / "kit.yaml")
    assert spec.created.isoformat() == "2026-09-21T14:13:20+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(SpecError, match="SOURCE_DATE_EPOCH must be an integer"):
        load_spec(site / "kit.yaml")


def test_an_input_removed_before_the_build_is_named(site: Path, tmp_path: Path) -> None:
    spec = load_spec(site / "kit.yaml")
    (site / "files" / "notes.txt").unlink()
    with pytest.raises(SpecError, match="notes.txt does not exist"):
        build_kit(spec, [generate()], tmp_path / "out.stella-kit")


def test_an_input_changed_during_the_build_fails_it_and_leaves_nothing(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kit.format.writer as writer
    real = writer.hash_source

    def hash_then_edit(source, buf, progress=None):  # type: ignore[no-untyped-def]
        result = real(source, buf, progress)
        if source.path == "attachments/notes.txt":
            source.file.write_text("edited between the hashing pass and the copy")
        return result

    monkeypatch.setattr(writer, "hash_source", hash_then_edit)
    out = tmp_path / "out.stella-kit"
    with pytest.raises(KitIOError, match="changed while the kit was being built") as err:
        build_kit(load_spec(site / "kit.yaml"), [generate()], out)
    assert err.value.entry == "attachments/notes.txt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]     # no kit, no partial file


BAD_SPECS = [
    ("kit: {name: site, channel: stable, sequence: 1, created: 2026-01-01, expires: 2027-01-01}\nextra: 1\n",
     "unknown key 'extra'"),
    ("kit: {name: site, channel: stable, sequence: 1, created: 2026-01-01, expires: 2027-01-01, colour: red}\n",
     "unknown key 'colour'"),
    ("kit: {name: Site!, channel: stable, sequence: 1, created: 2026-01-01, expires: 2027-01-01}\n", "kit.name"),
    ("kit: {name: site, channel: stable, sequence: 0, created: 2026-01-01, expires: 2027-01-01}\n", "kit.sequence"),
    ("kit: {name: site, channel: stable, sequence: 1, created: 2026-01-01}\n", "kit.expires is required"),
    ("kit: {name: site, channel: stable, sequence: 1, expires: 2027-01-01}\n", "kit.created is required"),
    ("kit: {name: site, channel: stable, sequence: 1, created: 2027-01-01, expires: 2026-01-01}\n",
     "expires must be after created"),
    ("kit: {name: site, channel: stable, sequence: 1, created: soon, expires: 2027-01-01}\n", "not an RFC 3339"),
    ("kit: {name: site, channel: stable, sequence: 1, created: 2026-01-01, expires: 2027-01-01}\n"
     "advisories: [nowhere/osv]\n", "nowhere/osv does not exist"),
    ("kit: [1, 2]\n", "'kit:' mapping"),
    ("kit: {name: site\n", "not valid YAML at line"),
    ("- just\n- a list\n", "top level must be a mapping"),
    ("kit: {name: site, channel: stable, sequence: 1, created: 2026-01-01, expires: 2027-01-01}\n"
     "attachments: [a.txt]\nattachments: [b.txt]\n", "line 3: duplicate key 'attachments'"),
]


@pytest.mark.parametrize("text,message", BAD_SPECS)
def test_bad_kit_yaml_is_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "kit.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message):
        load_spec(path)


def test_inputs_of_the_wrong_kind_are_refused(site: Path, tmp_path: Path) -> None:
    (site / "policy" / "README.md").write_text("docs")
    spec = load_spec(site / "kit.yaml")
    with pytest.raises(SpecError, match="README.md"):
        build_kit(spec, [generate()], tmp_path / "k")


def test_two_inputs_on_one_kit_path_are_refused(site: Path, tmp_path: Path) -> None:
    (site / "other").mkdir()
    (site / "other" / "notes.txt").write_text("other")
    text = (site / "kit.yaml").read_text().replace("attachments: [files/notes.txt]",
                                                    "attachments: [files/notes.txt, other/notes.txt]")
    (site / "kit.yaml").write_text(text)
    with pytest.raises(SpecError, match="would both be carried as attachments/notes.txt"):
        build_kit(load_spec(site / "kit.yaml"), [generate()], tmp_path / "k")
