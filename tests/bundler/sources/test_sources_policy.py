"""Policy packs: compiled with regopy at build time, v0 heads refused, contains flagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.errors import SpecError
from bundler.sources.policy import POLICY_DATA_TYPE, REGO_TYPE, policy_entries

GATE = """package stella.gate
import rego.v1

sev_rank := {"low": 1, "medium": 2, "high": 3, "critical": 4}

deny := [msg |
    some f in input.findings
    sev_rank[f.severity] >= sev_rank[data.config.min_severity]
    msg := sprintf("%s %s", [f.severity, f.id])
]

default allow := false
allow if count(deny) == 0
"""


def pack(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "policy"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_good_pack(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    folder = pack(tmp_path, {"gate.rego": GATE, "lib/util.rego": "package lib\nimport rego.v1\nx := 1\n",
                             "data.json": '{"config": {"min_severity": "high"}}', ".notes": "skipped"})
    entries = policy_entries(folder)
    assert [(e.path, e.media_type) for e in entries] == [
        ("policy/data.json", POLICY_DATA_TYPE), ("policy/gate.rego", REGO_TYPE), ("policy/lib/util.rego", REGO_TYPE)]
    assert entries[1].data == (folder / "gate.rego").read_bytes()
    assert capfd.readouterr() == ("", "")


def test_syntax_error_names_file_and_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    folder = pack(tmp_path, {"gate.rego": GATE, "bad.rego": "package gate\nimport rego.v1\nallow if {\n"})
    with pytest.raises(SpecError, match=r"policy: bad.rego: Rego syntax error: bad.rego:3:\d+: this is unclosed"):
        policy_entries(folder)
    assert capfd.readouterr() == ("", "")  # regopy's own printout is captured, not leaked


@pytest.mark.parametrize("data, message", [
    ("[1, 2]", "data.json: must be a JSON object"),
    ('{"a": 1, "a": 2}', "data.json: duplicate key 'a'"),
    ("{", "data.json: invalid JSON"),
])
def test_bad_data_json(tmp_path: Path, data: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        policy_entries(pack(tmp_path, {"gate.rego": GATE, "data.json": data}))


def test_v0_rule_head_is_refused(tmp_path: Path) -> None:
    folder = pack(tmp_path, {"old.rego": 'package gate\n\ndeny[msg] {\n    msg := "no"\n}\n'})
    with pytest.raises(SpecError, match=r"policy: old.rego:3: v0 rule head 'deny\[msg\] \{'"):
        policy_entries(folder)


def test_contains_is_flagged_not_refused(tmp_path: Path) -> None:
    folder = pack(tmp_path, {"gate.rego": GATE + "\nwarn contains f.id if { some f in input.findings }\n"})
    found: list[str] = []
    assert len(policy_entries(folder, warn=found.append)) == 1
    assert len(found) == 1 and "gate.rego:15: partial-set rule 'warn'" in found[0] and "O(n²)" in found[0]


@pytest.mark.parametrize("files, message", [
    ({"a.rego": "package gate\nimport rego.v1\nx := 1\n", "b.rego": "package gate\nimport rego.v1\nx := 2\n"},
     "cannot be evaluated together"),
    ({"a.rego": "package gate\nimport rego.v1\ny if missing_fn(1)\n"}, "Function not found: missing_fn"),
])
def test_pack_that_fails_to_evaluate(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(SpecError, match=f"policy: evaluating the pack failed: .*{message}"):
        policy_entries(pack(tmp_path, files))


@pytest.mark.parametrize("files, message", [
    ({"gate.rego": GATE, "README.md": "x"}, "README.md is neither a .rego module nor the top-level data.json"),
    ({"gate.rego": GATE, "sub/data.json": "{}"}, "sub/data.json is neither"),
    ({"data.json": "{}"}, "holds no .rego module"),
])
def test_unexpected_files(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        policy_entries(pack(tmp_path, files))


@pytest.mark.parametrize("text", [
    "package stella.gate\nimport rego.v1\nblocking := []\n",            # no deny at all
    "package stella.gate\nimport rego.v1\ndeny := \"nothing\"\n",        # not an array
    "package gate\nimport rego.v1\ndeny := []\n",                     # wrong package
])
def test_pack_without_the_deny_contract_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(SpecError, match="must define data.stella.gate.deny as an array"):
        policy_entries(pack(tmp_path, {"gate.rego": text}))
