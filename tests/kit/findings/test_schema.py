"""Normalized records validate against docs/schemas/advisory-record.schema.json and
round-trip through to_dict / advisory_from_dict."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from kit.canonical import dumps
from kit.findings.advisory import advisory_from_dict
from kit.findings.loader import load_advisories

from .conftest import advisory

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "schemas" /
                     "advisory-record.schema.json").read_text(encoding="utf-8"))


def check(record: dict) -> None:  # type: ignore[type-arg]
    jsonschema.Draft202012Validator(SCHEMA).validate(record)


def test_synthetic_records() -> None:
    adv = advisory("A-1", "Demo", events=[{"introduced": "0"}, {"last_affected": "1.0"}, {"limit": "2"}],
                   versions=["0.1"], aliases=["CVE-1", "A-1"], withdrawn="2024-01-01T00:00:00Z",
                   severity=[{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/"
                              "VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
                   database_specific={"severity": "MODERATE"})
    record = adv.to_dict()
    check(record)
    assert record["aliases"] == ["CVE-1"] and record["label"] == "medium"
    assert record["severity"][0]["score"] == "9.3"
    assert advisory_from_dict(json.loads(dumps(record))) == adv


def test_real_records_validate(pypa_zip: Path) -> None:
    loaded = load_advisories([pypa_zip])
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for adv in loaded.records[::10]:
        record = adv.to_dict()
        validator.validate(record)
        assert advisory_from_dict(record) == adv
