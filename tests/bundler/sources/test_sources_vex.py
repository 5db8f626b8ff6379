"""VEX at build time: OpenVEX 0.2.0 schema plus the appliance's parser, bytes carried as given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bundler.errors import SpecError
from bundler.sources.vex import OPENVEX_TYPE, vex_entries


def statement(**extra: Any) -> dict[str, Any]:
    out = {"vulnerability": {"name": "CVE-2024-0001", "aliases": ["GHSA-xxxx"]},
           "products": [{"@id": "pkg:oci/app@sha256:aa", "subcomponents": [{"@id": "pkg:pypi/demo@1.0"}]}],
           "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.test/vex/1",
            "author": "Site Security", "timestamp": "2024-06-01T00:00:00Z", "version": 1,
            "statements": list(statements) or [statement()]}


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")  # not canonical, on purpose
    return path


def test_file_and_folder_carried_byte_exact(tmp_path: Path) -> None:
    one = write(tmp_path / "site.openvex.json", document())
    write(tmp_path / "more" / "b.json", document(statement(status="fixed", justification=None)))
    write(tmp_path / "more" / "a" / "c.json", document(statement(status="affected", justification=None,
                                                                 action_statement="upgrade")))
    (tmp_path / "more" / "README.txt").write_text("ignored", encoding="utf-8")
    write(tmp_path / "more" / ".hidden.json", {"not": "vex"})
    entries = vex_entries([one, tmp_path / "more"])
    assert [(e.path, e.media_type) for e in entries] == [
        ("vex/site.openvex.json", OPENVEX_TYPE), ("vex/more/a/c.json", OPENVEX_TYPE),
        ("vex/more/b.json", OPENVEX_TYPE)]
    assert entries[0].data == one.read_bytes()


@pytest.mark.parametrize("doc, message", [
    (document(statement(), statement(justification=None)), "statement 1: not_affected needs a justification"),
    (document(statement(status="affected", justification=None)), "statement 0: affected needs an action_statement"),
    (document(statement(status="maybe")), "statement 0/status"),
    (document(statement(justification="because")), "statement 0/justification"),
    (document(statement(products=[])), "statement 0/products"),
    ({**document(), "author": ""}, "author"),
    ({**document(), "@context": "https://example.test"}, "@context"),
    ({**document(), "timestamp": "June"}, "timestamp"),
    ({**document(), "statements": []}, "statements"),
])
def test_malformed_documents_fail_naming_file_and_statement(tmp_path: Path, doc: Any, message: str) -> None:
    path = write(tmp_path / "bad.json", doc)
    with pytest.raises(SpecError, match=f"vex: .*bad.json.*{message}"):
        vex_entries([path])


def test_impact_statement_is_enough_for_not_affected(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.json", document(statement(justification=None, impact_statement="no exec")))
    assert len(vex_entries([path])) == 1


def test_parser_rules_apply_too(tmp_path: Path) -> None:
    # schema-valid (identifiers without a purl) but the appliance's parser cannot use the product
    doc = document(statement(products=[{"identifiers": {"cpe23": "cpe:2.3:a:x:y:1:*:*:*:*:*:*:*"}}]))
    with pytest.raises(SpecError, match=r"statement https://example.test/vex/1#0: product needs"):
        vex_entries([write(tmp_path / "cpe.json", doc)])


def test_not_json_and_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{", encoding="utf-8")
    with pytest.raises(SpecError, match="x.json: invalid JSON"):
        vex_entries([tmp_path / "x.json"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match="holds no .json document"):
        vex_entries([tmp_path / "empty"])


def test_same_kit_path_twice_fails(tmp_path: Path) -> None:
    a = write(tmp_path / "a" / "v.json", document())
    b = write(tmp_path / "b" / "v.json", document())
    with pytest.raises(SpecError, match="would both be carried as vex/v.json"):
        vex_entries([a, b])
