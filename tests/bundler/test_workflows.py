"""kit.yaml ``workflows:``: templates carried as signed entries, checked at build time."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bundler.build import build_kit
from bundler.cli import cli as bundler
from bundler.errors import SpecError
from bundler.spec import load_spec
from kit.crypto import generate, write_key_dir
from kit.errors import InvalidWorkflow, SpecialFile
from kit.format import KitReader
from kit.workflow.carried import MEDIA_TYPE, TemplateSink
from kit.workflow.load import load
from tests.kit.conftest import make_root
from tests.kit.craft import AT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STAGE = (EXAMPLES / "workflows" / "stage-rolling.workflow.yaml").read_bytes()
PROD = (EXAMPLES / "workflows" / "prod-canary.workflow.yaml").read_bytes()
BAD = b"""\
schema: stella/workflow/v1
name: prod
steps:
  - id: gates
    uses: gate
  - id: deploy
    uses: deploy
    needs: [gates, gates2]
"""


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    """The example kit folder with two templates named in kit.yaml."""
    dest = tmp_path / "site"
    shutil.copytree(EXAMPLES / "site", dest)
    (dest / "workflows").mkdir()
    (dest / "workflows" / "prod.yaml").write_bytes(PROD)
    (dest / "workflows" / "stage.yaml").write_bytes(STAGE)
    with (dest / "kit.yaml").open("a") as fh:
        fh.write("workflows:\n  stage: workflows/stage.yaml\n  prod: workflows/prod.yaml\n")
    return dest


def test_templates_are_signed_entries_carried_byte_exact(site: Path, tmp_path: Path) -> None:
    key = generate()
    result = build_kit(load_spec(site / "kit.yaml"), [key], tmp_path / "site.stella-kit")
    carried = {e.path: e.media_type for e in result.manifest.entries if e.path.startswith("workflows/")}
    assert carried == {"workflows/prod.workflow.yaml": MEDIA_TYPE, "workflows/stage.workflow.yaml": MEDIA_TYPE}
    sink = TemplateSink()
    check = KitReader(result.path).verify(trust=make_root([key], 1), at=AT, sink=sink)
    assert check.ok
    assert sink.found == {"workflows/prod.workflow.yaml": PROD, "workflows/stage.workflow.yaml": STAGE}
    found = sink.templates(result.manifest.entries)
    assert [(env, t.digest) for _, env, t in found] == [("prod", load(PROD, "p").digest),
                                                         ("stage", load(STAGE, "s").digest)]


def test_same_inputs_give_byte_identical_kits(site: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    write_key_dir(keys, generate())
    other = tmp_path / "elsewhere" / "deeper" / "site"
    shutil.copytree(site, other)
    for i, f in enumerate(sorted(p for p in other.rglob("*") if p.is_file())):
        os.utime(f, (1_000_000 + i, 1_000_000 + i))      # other file times and modes
        os.chmod(f, 0o600)
    for n, folder in enumerate((site, other)):
        result = CliRunner().invoke(bundler, ["build", str(folder / "kit.yaml"), "--key", str(keys),
                                              "--out", str(tmp_path / f"{n}.stella-kit"), "--no-progress"])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "0.stella-kit").read_bytes() == (tmp_path / "1.stella-kit").read_bytes()


def test_the_order_of_the_mapping_does_not_change_the_entries(site: Path, tmp_path: Path) -> None:
    key = generate()
    one = build_kit(load_spec(site / "kit.yaml"), [key], tmp_path / "one.stella-kit")
    text = (site / "kit.yaml").read_text().replace(
        "  stage: workflows/stage.yaml\n  prod: workflows/prod.yaml\n",
        "  prod: workflows/prod.yaml\n  stage: workflows/stage.yaml\n")
    (site / "kit.yaml").write_text(text)
    two = build_kit(load_spec(site / "kit.yaml"), [key], tmp_path / "two.stella-kit")
    # only the provenance differs: it names kit.yaml's digest
    assert [e for e in one.manifest.entries if not e.path.startswith("provenance/")] == \
        [e for e in two.manifest.entries if not e.path.startswith("provenance/")]


def test_a_bad_template_fails_the_build_naming_file_and_problem(site: Path, tmp_path: Path) -> None:
    (site / "workflows" / "prod.yaml").write_bytes(BAD)
    keys = tmp_path / "keys"
    write_key_dir(keys, generate())
    out = tmp_path / "out.stella-kit"
    result = CliRunner().invoke(bundler, ["build", str(site / "kit.yaml"), "--key", str(keys), "--out", str(out),
                                          "--no-progress"])
    assert result.exit_code == 3, result.output
    assert "invalid-workflow" in result.output
    assert "workflows.prod: workflows/prod.yaml: steps[1].needs[1]: unknown step 'gates2'" in result.output
    assert not out.exists()
    with pytest.raises(InvalidWorkflow) as err:
        build_kit(load_spec(site / "kit.yaml"), [generate()], out)
    assert err.value.entry == "workflows/prod.yaml" and err.value.problems[0][0] == "steps[1].needs[1]"


@pytest.mark.parametrize(("mapping", "message"), [
    ("workflows: [prod.yaml]\n", "workflows must map environment names to template files"),
    ("workflows:\n  'prod/x': workflows/prod.yaml\n", "'prod/x' is not an environment name"),
    ("workflows:\n  prod: 3\n", "workflows.prod must be the path of a template file"),
    ("workflows:\n  prod: workflows/none.yaml\n", "workflows.prod: workflows/none.yaml does not exist"),
])
def test_bad_workflows_mapping_is_refused(site: Path, mapping: str, message: str) -> None:
    text = (site / "kit.yaml").read_text()
    text = text[:text.index("workflows:")] + mapping
    (site / "kit.yaml").write_text(text)
    with pytest.raises(SpecError, match=message):
        load_spec(site / "kit.yaml")


def test_a_fifo_or_an_oversized_template_is_not_read(site: Path, tmp_path: Path) -> None:
    target = site / "workflows" / "prod.yaml"
    target.unlink()
    os.mkfifo(target)           # opening it would block the build forever
    with pytest.raises(SpecError, match="is a FIFO, not a regular file"):
        build_kit(load_spec(site / "kit.yaml"), [generate()], tmp_path / "k")
    target.unlink()
    target.write_bytes(b"a: [" * 70000)
    with pytest.raises(Exception, match="over the limit of 262144 bytes") as err:
        build_kit(load_spec(site / "kit.yaml"), [generate()], tmp_path / "k")
    assert err.value.kind == "limit-exceeded"       # type: ignore[attr-defined]
    assert SpecialFile.kind == "special-file"


def test_a_delta_carries_a_changed_template_and_inherits_an_unchanged_one(site: Path, tmp_path: Path) -> None:
    def run(*args: object) -> None:
        result = CliRunner().invoke(bundler, [str(a) for a in args])
        assert result.exit_code == 0, result.output

    run("keygen", "--out", tmp_path / "key")
    run("trust", "init", "--key", tmp_path / "key", "--threshold", "1", "--channel", "stable",
        "--expires", "2099-12-31", "--out", tmp_path / "trust.json")
    run("build", site / "kit.yaml", "--key", tmp_path / "key", "--out", tmp_path / "d1.kit", "--no-progress")
    (site / "kit.yaml").write_text((site / "kit.yaml").read_text().replace("sequence: 1", "sequence: 2"))
    (site / "workflows" / "prod.yaml").write_bytes(PROD.replace(b"count: 2", b"count: 3"))
    run("build", site / "kit.yaml", "--key", tmp_path / "key", "--out", tmp_path / "d2.delta", "--no-progress",
        "--base", tmp_path / "d1.kit", "--trust", tmp_path / "trust.json")
    from kit.format import inspect_kit
    delta = inspect_kit(tmp_path / "d2.delta").manifest
    assert delta is not None and delta.kind == "delta"
    assert "workflows/prod.workflow.yaml" in {e.path for e in delta.entries}
    assert "workflows/stage.workflow.yaml" in {e.path for e in delta.inherited}
